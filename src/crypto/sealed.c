/* sealed.c: the framing of sealed jobs over HTTP (zt_sealed.h): sealing a
 * job body (bytes: what the body holds is src/jobs/body.c's), the final
 * chunk, the worker's response writer and the client's response reader.
 * The cryptography is envelope.c's; this file frames bytes, checks the
 * final chunk's canonical form and keeps the reader's state machine. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_sealed.h"

#define FRAME_MAX (ZT_ENV_CHUNK_MAX + ZT_ENV_CHUNK_OVERHEAD)

static int reader_new(const struct zt_env_header *job, uint8_t **sk,
                      const uint8_t worker_kem_pk[static ZT_HPKE_PK_LEN],
                      const uint8_t worker_sign_pk[static ZT_ENV_ED25519_PK_LEN],
                      const uint8_t input_hash[static ZT_ENV_HASH_LEN], struct zt_sealed_reader **out);

int zt_sealed_call_seal(const char *model, uint32_t max_tokens, uint64_t max_price, bool stream, uint64_t ttl_s,
                        uint64_t now,
                        struct zt_hpke_suite suite, const uint8_t kem_pk[static ZT_HPKE_PK_LEN],
                        const uint8_t sign_pk[static ZT_ENV_ED25519_PK_LEN], const uint8_t *body, size_t body_len,
                        struct zt_sealed_call *out)
{
    struct zt_env_header t;
    struct zt_sealed_call c;
    memset(&t, 0, sizeof t);
    memset(&c, 0, sizeof c);
    size_t ml = model ? strlen(model) : 0;
    if (ml == 0 || ml > ZT_ENV_MODEL_MAX) return ZT_EPARSE;
    uint8_t *reply_sk = zt_secure_alloc(ZT_HPKE_SK_LEN);
    if (!reply_sk) return ZT_ENOMEM;
    int rc = zt_hpke_keypair(reply_sk, t.reply_pk);
    if (rc) goto out;
    uint8_t input_hash[ZT_ENV_HASH_LEN];
    zt_sha256(input_hash, body, body_len);
    t.flags = (uint8_t)(stream ? ZT_ENV_FLAG_STREAM : 0u);
    t.suite = suite;
    zt_env_job_id_new(t.job_id);
    t.created = now;
    t.expires = now + ttl_s;
    t.max_tokens = max_tokens;
    t.max_price = max_price;
    t.model_len = (uint8_t)ml;
    memcpy(t.model, model, ml);
    rc = zt_env_seal(&t, kem_pk, body, body_len, &c.sent, &c.env, &c.env_len);
    if (rc) goto out;
    rc = reader_new(&c.sent, &reply_sk, kem_pk, sign_pk, input_hash, &c.reader); /* the reader takes reply_sk */
    if (rc) goto out;
    *out = c;
    memset(&c, 0, sizeof c);
out:
    zt_secure_free(reply_sk, ZT_HPKE_SK_LEN);
    zt_sealed_call_deinit(&c);
    return rc;
}

void zt_sealed_call_deinit(struct zt_sealed_call *c)
{
    if (!c) return;
    zt_sealed_reader_free(c->reader);
    zt_free(c->env);
    memset(c, 0, sizeof *c);
}

/* ---- final chunk ----------------------------------------------------------- */

static bool finish_ok(const char *s, size_t n)
{
    if (n == 0 || n > ZT_SEALED_FINISH_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_')) return false;
    return true;
}

int zt_sealed_final_encode(const struct zt_sealed_final *f, char *out, size_t out_size, size_t *out_len)
{
    if (!f || !out || !out_len) return ZT_EINVAL;
    size_t fl = strnlen(f->finish_reason, sizeof f->finish_reason);
    if (fl == sizeof f->finish_reason || !finish_ok(f->finish_reason, fl)) return ZT_EINVAL;
    uint64_t total = (uint64_t)f->prompt_tokens + f->completion_tokens;
    int n = snprintf(out, out_size,
                     "{\"finish_reason\":\"%s\",\"usage\":{\"completion_tokens\":%u,\"prompt_tokens\":%u,"
                     "\"total_tokens\":%llu}}",
                     f->finish_reason, (unsigned)f->completion_tokens, (unsigned)f->prompt_tokens,
                     (unsigned long long)total);
    if (n < 0 || (size_t)n >= out_size) return ZT_EINVAL;
    *out_len = (size_t)n;
    return 0;
}

/* Read a decimal u32 at *p (no sign, no leading zeros except "0"). */
static bool read_u32(const char **p, const char *end, uint32_t *out)
{
    const char *s = *p;
    if (s >= end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9'))
        return false;
    uint64_t v = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX) return false;
        s++;
    }
    *p = s;
    *out = (uint32_t)v;
    return true;
}

static bool lit(const char **p, const char *end, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0) return false;
    *p += n;
    return true;
}

int zt_sealed_final_decode(const uint8_t *buf, size_t len, struct zt_sealed_final *out)
{
    /* One encoding per final: parse exactly the canonical form, so the bytes
     * under the output hash are never ambiguous. */
    if (!out || (!buf && len)) return ZT_EINVAL;
    if (len > ZT_SEALED_FINAL_MAX) return ZT_EPARSE;
    const char *p = (const char *)buf, *end = p + len;
    struct zt_sealed_final f;
    memset(&f, 0, sizeof f);
    if (!lit(&p, end, "{\"finish_reason\":\"")) return ZT_EPARSE;
    const char *q = p;
    while (q < end && *q != '"') q++;
    if (q == end || !finish_ok(p, (size_t)(q - p))) return ZT_EPARSE;
    memcpy(f.finish_reason, p, (size_t)(q - p));
    p = q + 1;
    uint32_t total;
    if (!lit(&p, end, ",\"usage\":{\"completion_tokens\":") || !read_u32(&p, end, &f.completion_tokens) ||
        !lit(&p, end, ",\"prompt_tokens\":") || !read_u32(&p, end, &f.prompt_tokens) ||
        !lit(&p, end, ",\"total_tokens\":") || !read_u32(&p, end, &total) || !lit(&p, end, "}}") || p != end)
        return ZT_EPARSE;
    if ((uint64_t)total != (uint64_t)f.prompt_tokens + f.completion_tokens) return ZT_EPARSE;
    *out = f;
    return 0;
}

/* ---- checkpoints (wire v2) ----------------------------------------------------- */

static const char CKPT_CTX[] = "zentalk-checkpoint-v1";

static bool build_id_ok(const char *b, size_t n)
{
    if (n == 0 || n > ZT_ENV_BUILD_ID_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (b[i] < 0x20 || b[i] > 0x7e) return false;
    return true;
}

/* The signed message: the context string, then the record's bytes (plain
 * Ed25519 over the whole message, not the prehashed multi-part API). */
static size_t ckpt_sig_msg(uint8_t *msg, const uint8_t *body, size_t n)
{
    memcpy(msg, CKPT_CTX, sizeof CKPT_CTX - 1);
    memcpy(msg + sizeof CKPT_CTX - 1, body, n);
    return sizeof CKPT_CTX - 1 + n;
}

int zt_checkpoint_sign(const struct zt_checkpoint *c, const uint8_t sk[static ZT_ENV_ED25519_SK_LEN], uint8_t *out,
                       size_t out_size, size_t *out_len)
{
    if (!c || !out || !out_len) return ZT_EINVAL;
    size_t bl = strnlen(c->build_id, sizeof c->build_id);
    if ((c->flags & ~ZT_CKPT_FLAG_FINAL) || !build_id_ok(c->build_id, bl)) return ZT_EPARSE;
    size_t n = ZT_CKPT_FIXED_LEN + bl;
    if (out_size < n + ZT_ENV_SIG_LEN) return ZT_EINVAL;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    memcpy(out, "ZTK1", 4);
    out[4] = c->flags;
    memcpy(out + 5, c->job_id, 16);
    memcpy(out + 21, c->subject, 32);
    memcpy(out + 53, c->model_sha256, 32);
    memcpy(out + 85, c->prev, 32);
    zt_put_le32(out + 117, c->n_tokens);
    memcpy(out + 121, c->chain, 32);
    memcpy(out + 153, sk + 32, 32); /* libsodium's secret key ends with the public key */
    out[185] = (uint8_t)bl;
    memcpy(out + 186, c->build_id, bl);
    uint8_t msg[sizeof CKPT_CTX + ZT_CKPT_MAX_LEN];
    size_t ml = ckpt_sig_msg(msg, out, n);
    if (crypto_sign_detached(out + n, NULL, msg, ml, sk) != 0) return ZT_ECRYPTO;
    *out_len = n + ZT_ENV_SIG_LEN;
    return 0;
}

int zt_checkpoint_verify(const uint8_t *b, size_t len, const uint8_t *pk, struct zt_checkpoint *out)
{
    if ((!b && len) || !out) return ZT_EINVAL;
    if (len < ZT_CKPT_MIN_LEN || len > ZT_CKPT_MAX_LEN || memcmp(b, "ZTK1", 4) != 0) return ZT_EPARSE;
    size_t bl = b[185];
    if (len != ZT_CKPT_FIXED_LEN + bl + ZT_ENV_SIG_LEN || (b[4] & ~ZT_CKPT_FLAG_FINAL) ||
        !build_id_ok((const char *)b + 186, bl))
        return ZT_EPARSE;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    if (pk && sodium_memcmp(pk, b + 153, 32) != 0) return ZT_ECRYPTO;
    uint8_t msg[sizeof CKPT_CTX + ZT_CKPT_MAX_LEN];
    size_t ml = ckpt_sig_msg(msg, b, len - ZT_ENV_SIG_LEN);
    if (crypto_sign_verify_detached(b + len - ZT_ENV_SIG_LEN, msg, ml, b + 153) != 0) return ZT_ECRYPTO;
    struct zt_checkpoint c;
    memset(&c, 0, sizeof c);
    c.flags = b[4];
    memcpy(c.job_id, b + 5, 16);
    memcpy(c.subject, b + 21, 32);
    memcpy(c.model_sha256, b + 53, 32);
    memcpy(c.prev, b + 85, 32);
    c.n_tokens = zt_get_le32(b + 117);
    memcpy(c.chain, b + 121, 32);
    memcpy(c.worker_pk, b + 153, 32);
    c.build_id_len = (uint8_t)bl;
    memcpy(c.build_id, b + 186, bl);
    *out = c;
    return 0;
}

void zt_checkpoint_id(const uint8_t *buf, size_t len, uint8_t out[static ZT_ENV_HASH_LEN])
{
    zt_sha256(out, buf, len);
}

/* ---- writer ------------------------------------------------------------------ */

struct zt_sealed_writer {
    struct zt_env_result_sealer *s;
    struct zt_env_header hdr;
    bool stream, done, v2;
    struct zt_buf kept; /* !stream: the text until the end */
    uint8_t *chunk;     /* FRAME_MAX scratch */
    size_t chunk_used;  /* how much of it a seal has written: what free wipes */
};

/* Seal n bytes into w->chunk (a frame of n + ZT_ENV_CHUNK_OVERHEAD bytes
 * at most, all a seal writes). Only that high-water mark is wiped at the
 * end: wiping all FRAME_MAX (1 MiB) faulted in and cleared every page of
 * the scratch for each job's few hundred bytes. */
static int seal_chunk(struct zt_sealed_writer *w, const void *p, size_t n, bool final, size_t *clen)
{
    size_t most = n + ZT_ENV_CHUNK_OVERHEAD;
    if (most > w->chunk_used) w->chunk_used = most < FRAME_MAX ? most : FRAME_MAX;
    return zt_env_result_seal(w->s, p, n, final, w->chunk, FRAME_MAX, clen);
}

int zt_sealed_writer_new(const struct zt_env_header *hdr, const uint8_t worker_sk[static ZT_HPKE_SK_LEN],
                         bool stream, struct zt_buf *out, struct zt_sealed_writer **wout)
{
    if (!hdr || !out || !wout) return ZT_EINVAL;
    struct zt_sealed_writer *w = zt_calloc(1, sizeof *w);
    if (!w) return ZT_ENOMEM;
    w->hdr = *hdr;
    w->stream = stream;
    zt_buf_init(&w->kept, ZT_ENV_MAX_BODY);
    uint8_t sh[ZT_ENV_STREAM_HDR_LEN];
    int rc = ZT_ENOMEM;
    w->chunk = zt_malloc(FRAME_MAX);
    if (w->chunk) rc = zt_env_result_sealer_new(hdr, worker_sk, sh, &w->s);
    if (!rc) rc = zt_buf_append(out, sh, sizeof sh);
    return ZT_HAND_OUT(rc, w, zt_sealed_writer_free, wout);
}

static int seal_pieces(struct zt_sealed_writer *w, const char *text, size_t len, struct zt_buf *out)
{
    while (len) {
        size_t n = len < ZT_ENV_CHUNK_MAX ? len : ZT_ENV_CHUNK_MAX, clen;
        int rc = seal_chunk(w, text, n, false, &clen);
        if (!rc) rc = zt_buf_append(out, w->chunk, clen);
        if (rc) return rc;
        text += n;
        len -= n;
    }
    return 0;
}

/* Output bytes: sealed now (stream) or kept until the end. */
static int put_out(struct zt_sealed_writer *w, const void *p, size_t len, struct zt_buf *out)
{
    if (!w->stream) return zt_buf_append(&w->kept, p, len);
    return seal_pieces(w, p, len, out);
}

int zt_sealed_writer_text(struct zt_sealed_writer *w, const char *text, size_t len, struct zt_buf *out)
{
    if (!w || !out || (!text && len) || w->v2) return ZT_EINVAL;
    if (w->done) return ZT_ECLOSED;
    return put_out(w, text, len, out);
}

void zt_sealed_writer_v2(struct zt_sealed_writer *w)
{
    if (w) w->v2 = true;
}

/* One record: header and payload pieces, sealed as one chunk when streaming. */
static int put_record(struct zt_sealed_writer *w, uint8_t type, const uint8_t *a, size_t alen, const void *b,
                      size_t blen, struct zt_buf *out)
{
    size_t n = ZT_SEALED_REC_HDR + alen + blen;
    uint8_t *rec = zt_malloc(n);
    if (!rec) return ZT_ENOMEM;
    rec[0] = type;
    zt_put_le32(rec + 1, (uint32_t)(alen + blen));
    if (alen) memcpy(rec + ZT_SEALED_REC_HDR, a, alen);
    if (blen) memcpy(rec + ZT_SEALED_REC_HDR + alen, b, blen);
    int rc = put_out(w, rec, n, out);
    sodium_memzero(rec, n);
    zt_free(rec);
    return rc;
}

int zt_sealed_writer_tokens(struct zt_sealed_writer *w, const int32_t *ids, size_t n_ids, const char *text,
                            size_t len, struct zt_buf *out)
{
    if (!w || !out || (!text && len) || (!ids && n_ids) || !w->v2 || n_ids > 65535) return ZT_EINVAL;
    if (w->done) return ZT_ECLOSED;
    size_t il = 2 + 4 * n_ids;
    if (il + ZT_SEALED_REC_HDR >= ZT_SEALED_REC_MAX) return ZT_EINVAL;
    uint8_t *idb = zt_malloc(il);
    if (!idb) return ZT_ENOMEM;
    idb[0] = (uint8_t)n_ids;
    idb[1] = (uint8_t)(n_ids >> 8);
    int rc = 0;
    for (size_t i = 0; i < n_ids && !rc; i++) {
        if (ids[i] < 0) rc = ZT_EINVAL;
        zt_put_le32(idb + 2 + 4 * i, (uint32_t)ids[i]);
    }
    /* text beyond one record goes on in records without ids */
    const uint8_t *a = idb;
    size_t alen = il;
    do {
        size_t room = ZT_SEALED_REC_MAX - ZT_SEALED_REC_HDR - alen, take = len < room ? len : room;
        if (!rc) rc = put_record(w, ZT_SEALED_REC_TOKENS, a, alen, text, take, out);
        text += take;
        len -= take;
        a = (const uint8_t *)"\0\0";
        alen = 2;
    } while (!rc && len);
    zt_free(idb);
    return rc;
}

int zt_sealed_writer_checkpoint(struct zt_sealed_writer *w, const uint8_t *rec, size_t len, struct zt_buf *out)
{
    if (!w || !out || !rec || !w->v2 || len < ZT_CKPT_MIN_LEN || len > ZT_CKPT_MAX_LEN) return ZT_EINVAL;
    if (w->done) return ZT_ECLOSED;
    return put_record(w, ZT_SEALED_REC_CHECKPOINT, rec, len, NULL, 0, out);
}

int zt_sealed_writer_finish(struct zt_sealed_writer *w, const struct zt_sealed_final *f,
                            const struct zt_env_receipt *r, const uint8_t sign_sk[static ZT_ENV_ED25519_SK_LEN],
                            struct zt_buf *out)
{
    if (!w || !f || !r || !out) return ZT_EINVAL;
    if (w->done) return ZT_ECLOSED;
    char fin[ZT_SEALED_FINAL_MAX];
    size_t flen, clen, rlen;
    int rc = zt_sealed_final_encode(f, fin, sizeof fin, &flen);
    if (rc) return rc;
    if (!w->stream && (rc = seal_pieces(w, w->kept.data, w->kept.len, out)) != 0) return rc;
    zt_buf_reset(&w->kept);
    rc = seal_chunk(w, fin, flen, true, &clen);
    if (rc) return rc;
    w->done = true; /* the sealer is spent whatever happens next */
    struct zt_env_receipt rec = *r;
    memcpy(rec.job_id, w->hdr.job_id, ZT_ENV_JOB_ID_LEN);
    rec.prompt_tokens = f->prompt_tokens;
    rec.completion_tokens = f->completion_tokens;
    uint8_t frame[ZT_SEALED_RECEIPT_FRAME_LEN + ZT_ENV_RECEIPT_MAX_LEN];
    if ((rc = zt_env_header_hash(&w->hdr, rec.header_hash)) != 0 ||
        (rc = zt_env_result_sealer_output_hash(w->s, rec.output_hash)) != 0 ||
        (rc = zt_env_receipt_sign(&rec, sign_sk, frame + ZT_SEALED_RECEIPT_FRAME_LEN,
                                  sizeof frame - ZT_SEALED_RECEIPT_FRAME_LEN, &rlen)) != 0)
        return rc;
    zt_put_be32(frame, (uint32_t)rlen);
    if ((rc = zt_buf_append(out, w->chunk, clen)) != 0) return rc;
    return zt_buf_append(out, frame, ZT_SEALED_RECEIPT_FRAME_LEN + rlen);
}

void zt_sealed_writer_free(struct zt_sealed_writer *w)
{
    if (!w) return;
    zt_env_result_sealer_free(w->s);
    if (w->kept.data) sodium_memzero(w->kept.data, w->kept.len);
    zt_buf_deinit(&w->kept);
    if (w->chunk) sodium_memzero(w->chunk, w->chunk_used);
    zt_free(w->chunk);
    zt_free(w);
}

/* ---- reader ------------------------------------------------------------------ */

enum rstate { RS_STREAM_HDR, RS_CHUNK, RS_RECEIPT_LEN, RS_RECEIPT, RS_DONE };

struct zt_sealed_reader {
    enum rstate state;
    int err;          /* 0, or the error that ended it */
    const char *why;  /* static reason for err */
    struct zt_env_header job;
    uint8_t *reply_sk; /* guarded (zt_secure_alloc) until the opener exists */
    uint8_t worker_pk[ZT_HPKE_PK_LEN];
    uint8_t sign_pk[ZT_ENV_ED25519_PK_LEN];
    uint8_t input_hash[ZT_ENV_HASH_LEN];
    struct zt_env_result_opener *o;
    uint8_t *buf;     /* the unit being collected */
    size_t have, need, cap;
    bool in_body;     /* RS_CHUNK: prefix read, collecting the rest */
    uint8_t *pt;      /* plaintext scratch */
    size_t pt_cap;
    struct zt_sealed_final final;
    uint8_t receipt[ZT_ENV_RECEIPT_MAX_LEN];
    size_t receipt_len;
    uint64_t text_bytes;
    /* wire v2 */
    bool v2;
    uint32_t base, n_ids;
    uint32_t since_ckpt;        /* ids since the last checkpoint (at most ZT_SEALED_CHECKPOINT_EVERY) */
    struct zt_sealed_v2_hooks hooks;
    void *hooks_ud;
    struct zt_buf rec;          /* a record being collected across chunks */
    int32_t *ids;               /* scratch for a record's ids */
    uint8_t last_ckpt[ZT_CKPT_MAX_LEN];
    size_t last_ckpt_len;
    struct zt_checkpoint ckpt;
    bool final_ckpt;
};

void zt_sealed_reader_v2(struct zt_sealed_reader *r, uint32_t base, const struct zt_sealed_v2_hooks *h, void *ud)
{
    if (!r) return;
    r->v2 = true;
    r->base = base;
    if (h) r->hooks = *h;
    r->hooks_ud = ud;
}

/* A reader that takes *sk (sodium_malloc'd, ZT_HPKE_SK_LEN): on success
 * *sk is the reader's and set to NULL; on failure it stays the caller's. */
static int reader_new(const struct zt_env_header *job, uint8_t **sk,
                      const uint8_t worker_kem_pk[static ZT_HPKE_PK_LEN],
                      const uint8_t worker_sign_pk[static ZT_ENV_ED25519_PK_LEN],
                      const uint8_t input_hash[static ZT_ENV_HASH_LEN], struct zt_sealed_reader **out)
{
    if (!job || !out) return ZT_EINVAL;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    struct zt_sealed_reader *r = zt_calloc(1, sizeof *r);
    if (!r) return ZT_ENOMEM;
    r->cap = ZT_ENV_STREAM_HDR_LEN;
    r->buf = zt_malloc(r->cap);
    if (!r->buf) {
        zt_sealed_reader_free(r);
        return ZT_ENOMEM;
    }
    r->reply_sk = *sk;
    *sk = NULL;
    r->job = *job;
    memcpy(r->worker_pk, worker_kem_pk, sizeof r->worker_pk);
    memcpy(r->sign_pk, worker_sign_pk, sizeof r->sign_pk);
    memcpy(r->input_hash, input_hash, sizeof r->input_hash);
    r->state = RS_STREAM_HDR;
    r->need = ZT_ENV_STREAM_HDR_LEN;
    zt_buf_init(&r->rec, ZT_SEALED_REC_MAX);
    *out = r;
    return 0;
}

int zt_sealed_reader_new(const struct zt_env_header *job, const uint8_t reply_sk[static ZT_HPKE_SK_LEN],
                         const uint8_t worker_kem_pk[static ZT_HPKE_PK_LEN],
                         const uint8_t worker_sign_pk[static ZT_ENV_ED25519_PK_LEN],
                         const uint8_t input_hash[static ZT_ENV_HASH_LEN], struct zt_sealed_reader **out)
{
    if (!job || !out) return ZT_EINVAL;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    uint8_t *sk = zt_secure_alloc(ZT_HPKE_SK_LEN);
    if (!sk) return ZT_ENOMEM;
    memcpy(sk, reply_sk, ZT_HPKE_SK_LEN);
    int rc = reader_new(job, &sk, worker_kem_pk, worker_sign_pk, input_hash, out);
    zt_secure_free(sk, ZT_HPKE_SK_LEN);
    return rc;
}

static int die(struct zt_sealed_reader *r, int err, const char *why)
{
    r->err = err;
    r->why = why;
    return err;
}

static int grow(struct zt_sealed_reader *r, size_t need)
{
    if (need <= r->cap) return 0;
    uint8_t *b = zt_realloc(r->buf, need);
    if (!b) return ZT_ENOMEM;
    r->buf = b;
    r->cap = need;
    return 0;
}

_Static_assert(ZT_SEALED_CHECKPOINT_EVERY == 16, "the cadence message below names 16");

/* One complete v2 record. */
static int record(struct zt_sealed_reader *r, uint8_t type, const uint8_t *p, size_t n, zt_sealed_text_fn cb,
                  void *ud)
{
    if (r->final_ckpt) return die(r, ZT_EPARSE, "a record follows the final checkpoint");
    if (type == ZT_SEALED_REC_TOKENS) {
        if (n < 2) return die(r, ZT_EPARSE, "a token record is too short");
        size_t k = (size_t)p[0] | (size_t)p[1] << 8;
        if (n < 2 + 4 * k) return die(r, ZT_EPARSE, "a token record is too short for its ids");
        if (k && !r->ids && !(r->ids = zt_malloc(65535 * sizeof *r->ids))) return die(r, ZT_ENOMEM, "out of memory");
        for (size_t i = 0; i < k; i++) {
            uint32_t v = zt_get_le32(p + 2 + 4 * i);
            if (v > INT32_MAX) return die(r, ZT_EPARSE, "a token id is out of range");
            r->ids[i] = (int32_t)v;
        }
        if ((uint64_t)r->n_ids + k + r->base > UINT32_MAX) return die(r, ZT_EPARSE, "too many token ids");
        /* the cadence: a checkpoint after every ZT_SEALED_CHECKPOINT_EVERY
         * ids, so the prefix a worker streamed is attested if it dies */
        if (k > ZT_SEALED_CHECKPOINT_EVERY - r->since_ckpt)
            return die(r, ZT_EPARSE, "a checkpoint is missing (one is due after every 16 token ids)");
        r->since_ckpt += (uint32_t)k;
        r->n_ids += (uint32_t)k;
        if (k && r->hooks.tokens) r->hooks.tokens(r->hooks_ud, r->ids, k);
        size_t tl = n - 2 - 4 * k;
        r->text_bytes += tl;
        if (cb && tl) cb(ud, (const char *)p + 2 + 4 * k, tl);
        return 0;
    }
    if (type != ZT_SEALED_REC_CHECKPOINT) return die(r, ZT_EPARSE, "a result record of unknown type");
    struct zt_checkpoint c;
    int rc = zt_checkpoint_verify(p, n, r->sign_pk, &c);
    if (rc == ZT_ECRYPTO) return die(r, rc, "a checkpoint is not signed by this worker's key");
    if (rc) return die(r, rc, "a checkpoint is malformed");
    if (memcmp(c.job_id, r->job.job_id, ZT_ENV_JOB_ID_LEN) != 0)
        return die(r, ZT_ECRYPTO, "a checkpoint names another job");
    if (c.n_tokens != r->base + r->n_ids) return die(r, ZT_ECRYPTO, "a checkpoint counts other tokens than the stream");
    memcpy(r->last_ckpt, p, n);
    r->last_ckpt_len = n;
    r->since_ckpt = 0;
    r->ckpt = c;
    r->final_ckpt = (c.flags & ZT_CKPT_FLAG_FINAL) != 0;
    if (r->hooks.checkpoint) r->hooks.checkpoint(r->hooks_ud, p, n, &c);
    return 0;
}

/* Plaintext of a non-final chunk in v2: records, possibly across chunks. */
static int v2_feed(struct zt_sealed_reader *r, const uint8_t *p, size_t n, zt_sealed_text_fn cb, void *ud)
{
    while (n) {
        size_t need = ZT_SEALED_REC_HDR;
        if (r->rec.len >= ZT_SEALED_REC_HDR) need += zt_get_le32((const uint8_t *)r->rec.data + 1);
        size_t take = need - r->rec.len;
        if (take > n) take = n;
        if (take && zt_buf_append(&r->rec, p, take) != 0) return die(r, ZT_ENOMEM, "out of memory");
        p += take;
        n -= take;
        if (r->rec.len < need) continue;
        const uint8_t *rd = (const uint8_t *)r->rec.data;
        if (need == ZT_SEALED_REC_HDR) { /* the header: now the payload's length is known */
            uint32_t pl = zt_get_le32(rd + 1);
            if (pl > ZT_SEALED_REC_MAX - ZT_SEALED_REC_HDR) return die(r, ZT_EPARSE, "a result record is too long");
            if (pl) continue;
        }
        int rc = record(r, rd[0], rd + ZT_SEALED_REC_HDR, need - ZT_SEALED_REC_HDR, cb, ud);
        sodium_memzero(r->rec.data, r->rec.len);
        zt_buf_reset(&r->rec);
        if (rc) return rc;
    }
    return 0;
}

/* The unit in buf[0..need) is complete: act on it and set the next need.
 * Returns 1 when the unit only grew (a chunk's prefix: collect the rest into
 * the same buffer), 0 when it was consumed, or an error. */
static int unit_done(struct zt_sealed_reader *r, zt_sealed_text_fn cb, void *ud)
{
    int rc;
    switch (r->state) {
    case RS_STREAM_HDR:
        rc = zt_env_result_opener_new(&r->job, r->reply_sk, r->worker_pk, r->buf, r->need, &r->o);
        zt_secure_free(r->reply_sk, ZT_HPKE_SK_LEN);
        r->reply_sk = NULL;
        if (rc == ZT_ENOMEM) return die(r, rc, "out of memory");
        if (rc == ZT_EPARSE) return die(r, rc, "the response does not start with a result stream header");
        if (rc) return die(r, rc, "the result stream header is for another job");
        r->state = RS_CHUNK;
        r->need = ZT_ENV_CHUNK_PREFIX_LEN;
        return 0;
    case RS_CHUNK: {
        size_t flen = 0;
        if ((rc = zt_env_result_frame_len(r->buf, r->have, &flen)) != 0)
            return die(r, rc, "a result chunk is badly framed");
        if (!r->in_body) { /* had the prefix: now the whole chunk (flen > prefix) */
            if ((rc = grow(r, flen)) != 0) return die(r, rc, "out of memory");
            r->need = flen;
            r->in_body = true;
            return 1;
        }
        r->in_body = false;
        size_t want = flen - ZT_ENV_CHUNK_OVERHEAD, ptl = 0;
        if (want + 1 > r->pt_cap) {
            uint8_t *p = zt_realloc(r->pt, want + 1);
            if (!p) return die(r, ZT_ENOMEM, "out of memory");
            r->pt = p;
            r->pt_cap = want + 1;
        }
        bool final = false;
        rc = zt_env_result_open(r->o, r->buf, flen, r->pt, r->pt_cap, &ptl, &final);
        if (rc == ZT_ECRYPTO)
            return die(r, rc, "a result chunk does not authenticate (altered, reordered, dropped, or not from this worker)");
        if (rc) return die(r, rc, "a result chunk is malformed");
        if (!final) {
            r->need = ZT_ENV_CHUNK_PREFIX_LEN;
            if (r->v2) return v2_feed(r, r->pt, ptl, cb, ud);
            r->text_bytes += ptl;
            if (cb && ptl) cb(ud, (const char *)r->pt, ptl);
            return 0;
        }
        if (r->v2 && (r->rec.len || !r->final_ckpt))
            return die(r, ZT_EPARSE, "the stream ends without its final checkpoint");
        if ((rc = zt_sealed_final_decode(r->pt, ptl, &r->final)) != 0)
            return die(r, rc, "the final chunk is not a valid finish record");
        r->state = RS_RECEIPT_LEN;
        r->need = ZT_SEALED_RECEIPT_FRAME_LEN;
        return 0;
    }
    case RS_RECEIPT_LEN: {
        uint32_t n = zt_get_be32(r->buf);
        if (n < ZT_SEALED_RECEIPT_MIN_LEN || n > ZT_ENV_RECEIPT_MAX_LEN)
            return die(r, ZT_EPARSE, "the receipt length is out of range");
        if ((rc = grow(r, n)) != 0) return die(r, rc, "out of memory");
        r->state = RS_RECEIPT;
        r->need = n;
        return 0;
    }
    case RS_RECEIPT:
        memcpy(r->receipt, r->buf, r->need);
        r->receipt_len = r->need;
        r->state = RS_DONE;
        r->need = 0;
        return 0;
    case RS_DONE: break;
    }
    return die(r, ZT_EPARSE, "bytes after the receipt");
}

int zt_sealed_reader_feed(struct zt_sealed_reader *r, const uint8_t *p, size_t n, zt_sealed_text_fn cb, void *ud)
{
    if (!r || (!p && n)) return ZT_EINVAL;
    if (r->err) return r->err;
    while (n) {
        if (r->state == RS_DONE) return die(r, ZT_EPARSE, "bytes after the receipt");
        size_t take = r->need - r->have;
        if (take > n) take = n;
        memcpy(r->buf + r->have, p, take);
        r->have += take;
        p += take;
        n -= take;
        if (r->have < r->need) break;
        int rc = unit_done(r, cb, ud);
        if (rc < 0) return rc;
        if (rc == 0) r->have = 0;
    }
    return 0;
}

int zt_sealed_reader_finish(struct zt_sealed_reader *r, struct zt_sealed_result *out)
{
    if (!r || !out) return ZT_EINVAL;
    if (r->err) return r->err;
    if (r->state == RS_STREAM_HDR) return die(r, ZT_ECRYPTO, "the response ended before the result stream header");
    if (r->state == RS_CHUNK) {
        int rc = zt_env_result_finish(r->o);
        return die(r, rc ? rc : ZT_ECRYPTO, "the result stream was cut before its final chunk (truncated)");
    }
    if (r->state != RS_DONE) return die(r, ZT_ECRYPTO, "the response ended before the receipt (truncated)");
    struct zt_env_receipt rec;
    uint8_t h[ZT_ENV_HASH_LEN];
    int rc = zt_env_receipt_verify(r->receipt, r->receipt_len, r->sign_pk, &rec);
    if (rc == ZT_ECRYPTO) return die(r, rc, "the receipt is not signed by this worker's key");
    if (rc) return die(r, rc, "the receipt is malformed");
    if (sodium_memcmp(rec.job_id, r->job.job_id, ZT_ENV_JOB_ID_LEN) != 0)
        return die(r, ZT_ECRYPTO, "the receipt names another job id");
    if ((rc = zt_env_header_hash(&r->job, h)) != 0) return die(r, rc, "cannot hash the job header");
    if (sodium_memcmp(rec.header_hash, h, sizeof h) != 0)
        return die(r, ZT_ECRYPTO, "the receipt's header hash is not the job sent");
    if (sodium_memcmp(rec.input_hash, r->input_hash, sizeof h) != 0)
        return die(r, ZT_ECRYPTO, "the receipt's input hash is not the body sealed");
    if ((rc = zt_env_result_opener_output_hash(r->o, h)) != 0) return die(r, rc, "no output hash");
    if (sodium_memcmp(rec.output_hash, h, sizeof h) != 0)
        return die(r, ZT_ECRYPTO, "the receipt's output hash is not the output received");
    if (rec.prompt_tokens != r->final.prompt_tokens || rec.completion_tokens != r->final.completion_tokens)
        return die(r, ZT_ECRYPTO, "the receipt's token counts differ from the final chunk's");
    if (r->v2 && sodium_memcmp(rec.seq_chain, r->ckpt.chain, sizeof h) != 0)
        return die(r, ZT_ECRYPTO, "the receipt's chain differs from the final checkpoint's");
    memset(out, 0, sizeof *out);
    if (r->v2) {
        memcpy(out->checkpoint, r->last_ckpt, r->last_ckpt_len);
        out->checkpoint_len = r->last_ckpt_len;
        out->ckpt = r->ckpt;
        out->n_ids = r->n_ids;
    }
    out->final = r->final;
    out->receipt = rec;
    memcpy(out->receipt_bytes, r->receipt, r->receipt_len);
    out->receipt_len = r->receipt_len;
    out->text_bytes = r->text_bytes;
    return 0;
}

const char *zt_sealed_reader_error(const struct zt_sealed_reader *r)
{
    return r && r->err && r->why ? r->why : "";
}

void zt_sealed_reader_free(struct zt_sealed_reader *r)
{
    if (!r) return;
    zt_secure_free(r->reply_sk, ZT_HPKE_SK_LEN);
    zt_env_result_opener_free(r->o);
    if (r->pt) sodium_memzero(r->pt, r->pt_cap);
    if (r->buf) sodium_memzero(r->buf, r->cap);
    zt_free(r->pt);
    zt_free(r->buf);
    if (r->rec.data) sodium_memzero(r->rec.data, r->rec.cap);
    zt_buf_deinit(&r->rec);
    zt_free(r->ids);
    zt_free(r);
}
