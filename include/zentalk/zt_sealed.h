/* zt_sealed.h: sealed jobs over HTTP, on the envelope formats of
 * zt_envelope.h. What goes inside the envelope (the job body), what goes
 * inside the result stream (text chunks and a final chunk), and the framing
 * of the route's response (POST /v1/jobs/sealed):
 *
 *   request body   = envelope (zt_env_seal), Content-Type
 *                    application/vnd.zentalk.envelope
 *     sealed body  = the job body: bytes here; its JSON
 *                    ({"v":1,"kind":"completion","prompt":...}) is
 *                    zt_jobs.h's (zt_job_build, zt_job_body_decode)
 *   response body  = stream header (52)            Content-Type
 *                    || text chunk || ...          application/vnd.zentalk.result
 *                    || final chunk
 *                    || receipt_len (u32, big-endian) || receipt
 *     text chunk   = a piece of the generated UTF-8 text, as it is decoded
 *     final chunk  = {"finish_reason":"stop","usage":{"completion_tokens":N,
 *                    "prompt_tokens":M,"total_tokens":N+M}} (canonical)
 *
 * A stream that ends before the final chunk was cut (the worker failed after
 * it had started answering, or the transport was cut): the reader reports
 * it. Byte-level format and threat model:
 * docs/architecture/SECURE_GPU_ENCRYPTION.md (section 4) and
 * docs/privacy/ENCRYPTION.md.
 *
 * Writers and readers are one-thread objects. Every function returns 0 or a
 * negative ZT_E*; out-parameters are written only on success. */
#ifndef ZT_SEALED_H
#define ZT_SEALED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_envelope.h"
#include "zt_error.h"

#define ZT_SEALED_MEDIA_ENVELOPE "application/vnd.zentalk.envelope"
#define ZT_SEALED_MEDIA_RESULT "application/vnd.zentalk.result"
#define ZT_SEALED_FINAL_MAX 256      /* bytes of the final chunk's JSON */
#define ZT_SEALED_FINISH_MAX 15      /* bytes of a finish reason: [a-z_]{1,15} */
#define ZT_SEALED_RECEIPT_FRAME_LEN 4 /* the u32 length before the receipt */
#define ZT_SEALED_RECEIPT_MIN_LEN (ZT_ENV_RECEIPT_FIXED_LEN + 1 + ZT_ENV_SIG_LEN)

/* ---- Client side: sealing a job ----------------------------------------- */

/* A job sealed and its reader ready: what a client keeps while the result
 * streams back. */
struct zt_sealed_call {
    struct zt_env_header sent;       /* the header sealed */
    uint8_t *env;                    /* the envelope to POST (zt_free) */
    size_t env_len;
    struct zt_sealed_reader *reader; /* reads the response */
};

/* Seal body (body_len bytes) for model (1..128 bytes of UTF-8) with
 * max_tokens, max_price (the header's: the client's price ceiling), the stream flag and a lifetime of ttl_s seconds from now, to
 * a worker's X25519 kem_pk, with a fresh reply key pair (the secret in
 * sodium_malloc'd memory, wiped as soon as the reader holds its copy); the
 * reader checks the result against kem_pk and sign_pk (the worker's
 * Ed25519 key) and the body's SHA-256. suite: ZT_HPKE_SUITE_CHACHA or
 * ZT_HPKE_SUITE_AES256GCM. Errors of zt_env_seal() (ZT_EPARSE: a bad model
 * id; ZT_ECRYPTO: a bad kem_pk), ZT_ENOMEM. Release with
 * zt_sealed_call_deinit(). */
ZT_NODISCARD int zt_sealed_call_seal(const char *model, uint32_t max_tokens, uint64_t max_price, bool stream,
                                     uint64_t ttl_s,
                                     uint64_t now, struct zt_hpke_suite suite,
                                     const uint8_t kem_pk[static ZT_HPKE_PK_LEN],
                                     const uint8_t sign_pk[static ZT_ENV_ED25519_PK_LEN], const uint8_t *body,
                                     size_t body_len, struct zt_sealed_call *out);
void zt_sealed_call_deinit(struct zt_sealed_call *c);

/* ---- Final chunk ------------------------------------------------------------ */

struct zt_sealed_final {
    char finish_reason[ZT_SEALED_FINISH_MAX + 1]; /* "stop", "length" */
    uint32_t prompt_tokens;
    uint32_t completion_tokens;
};

/* The canonical JSON of f into out (out_size >= ZT_SEALED_FINAL_MAX is always
 * enough), *out_len set. ZT_EINVAL: a finish reason outside [a-z_]{1,15},
 * or out too small. */
ZT_NODISCARD int zt_sealed_final_encode(const struct zt_sealed_final *f, char *out,
                                        size_t out_size, size_t *out_len);
/* Parse a final chunk's plaintext: exactly the canonical encoding of some
 * final (so one final has one byte string, which the output hash covers);
 * ZT_EPARSE otherwise. */
ZT_NODISCARD int zt_sealed_final_decode(const uint8_t *p, size_t len, struct zt_sealed_final *out);

/* ---- Wire v2: checkpoints ------------------------------------------------------
 *
 * docs/architecture/WIRE.md. A checkpoint is a worker's signed statement of
 * the hash chain after n generated tokens of a job:
 *
 *   0    4  magic "ZTK1"
 *   4    1  flags: bit 0 FINAL (the job's last; other bits ZT_EPARSE)
 *   5   16  job_id of the envelope this worker ran
 *   21  32  subject: the chain's subject (SHA-256 of the first job body of
 *           the chain; the same across resumes and for its verifiers)
 *   53  32  model_sha256: SHA-256 of the model file
 *   85  32  prev: SHA-256 of the previous worker's last checkpoint record
 *           this one continues (zero: none)
 *   117  4  n_tokens (u32 LE): generated tokens in the chain, from the start
 *           of the job (a resumed worker counts the ids it was given)
 *   121 32  chain: the sampler's hash chain after those tokens
 *   153 32  worker Ed25519 public key
 *   185  1  build_id_len 1..64, then the engine build id (printable ASCII)
 *   186+n 64 Ed25519 signature over "zentalk-checkpoint-v1" || bytes[0, 186+n) */
#define ZT_CKPT_FIXED_LEN 186
#define ZT_CKPT_MAX_LEN (ZT_CKPT_FIXED_LEN + ZT_ENV_BUILD_ID_MAX + ZT_ENV_SIG_LEN)
#define ZT_CKPT_MIN_LEN (ZT_CKPT_FIXED_LEN + 1 + ZT_ENV_SIG_LEN)
#define ZT_CKPT_FLAG_FINAL 0x01u

struct zt_checkpoint {
    uint8_t flags;
    uint8_t job_id[ZT_ENV_JOB_ID_LEN];
    uint8_t subject[ZT_ENV_HASH_LEN];
    uint8_t model_sha256[ZT_ENV_HASH_LEN];
    uint8_t prev[ZT_ENV_HASH_LEN];
    uint32_t n_tokens;
    uint8_t chain[ZT_ENV_HASH_LEN];
    uint8_t worker_pk[ZT_ENV_ED25519_PK_LEN]; /* set by zt_checkpoint_sign() */
    uint8_t build_id_len;
    char build_id[ZT_ENV_BUILD_ID_MAX + 1];
};

/* Sign c (worker_pk taken from sk) into out (out_size >= ZT_CKPT_MAX_LEN is
 * always enough). ZT_EPARSE: build id empty, too long or not printable, or
 * unknown flags; ZT_EINVAL: out too small. */
ZT_NODISCARD int zt_checkpoint_sign(const struct zt_checkpoint *c, const uint8_t sk[static ZT_ENV_ED25519_SK_LEN],
                                    uint8_t *out, size_t out_size, size_t *out_len);
/* Parse and verify a checkpoint record. pk: the key expected (another
 * embedded key is ZT_ECRYPTO), or NULL to trust the embedded one. ZT_EPARSE:
 * malformed (length exact); ZT_ECRYPTO: any signed byte changed. */
ZT_NODISCARD int zt_checkpoint_verify(const uint8_t *buf, size_t len, const uint8_t *pk, struct zt_checkpoint *out);
/* SHA-256 of a record's bytes: what the next worker's prev holds. */
void zt_checkpoint_id(const uint8_t *buf, size_t len, uint8_t out[static ZT_ENV_HASH_LEN]);

/* Wire v2 result records (inside the chunk plaintexts; a record may span
 * chunks): type (1) || length (u32 LE) || payload.
 *   'T' tokens: n_ids (u16 LE) || ids (u32 LE each, < 2^31) || UTF-8 text
 *   'K' checkpoint: a record as above, signed by the worker */
#define ZT_SEALED_REC_TOKENS 0x54u
#define ZT_SEALED_REC_CHECKPOINT 0x4Bu
#define ZT_SEALED_REC_HDR 5
#define ZT_SEALED_REC_MAX ((size_t)ZT_ENV_CHUNK_MAX) /* header + payload */
#define ZT_SEALED_CHECKPOINT_EVERY 16                /* tokens between checkpoints */

/* ---- Worker side: response writer ------------------------------------------ */

struct zt_sealed_writer;

/* Set up the result stream for the opened job hdr (zt_env_result_sealer_new
 * with the worker's X25519 key) and append the stream header to out.
 * stream: one chunk per zt_sealed_writer_text() call; otherwise text is
 * kept (up to ZT_ENV_MAX_BODY bytes) and sealed at the end. ZT_ECRYPTO,
 * ZT_ENOMEM, ZT_ETOOBIG (out full). */
ZT_NODISCARD int zt_sealed_writer_new(const struct zt_env_header *hdr,
                                      const uint8_t worker_sk[static ZT_HPKE_SK_LEN], bool stream,
                                      struct zt_buf *out, struct zt_sealed_writer **w);
/* Seal generated text (pieces of at most ZT_ENV_CHUNK_MAX bytes per chunk)
 * and append the chunks to out. ZT_ECLOSED after the final chunk;
 * ZT_ETOOBIG (out full or the kept text over its bound), ZT_ENOMEM. */
ZT_NODISCARD int zt_sealed_writer_text(struct zt_sealed_writer *w, const char *text, size_t len,
                                       struct zt_buf *out);
/* Seal the final chunk for f, then sign the receipt and append
 * receipt_len || receipt. r gives input_hash, seq_chain, finished and the
 * build id; the writer sets job_id, header_hash, output_hash and the token
 * counts (from f). sign_sk: the worker's Ed25519 key (libsodium layout).
 * Errors of zt_env_result_seal() and zt_env_receipt_sign(), ZT_ETOOBIG. */
ZT_NODISCARD int zt_sealed_writer_finish(struct zt_sealed_writer *w, const struct zt_sealed_final *f,
                                         const struct zt_env_receipt *r,
                                         const uint8_t sign_sk[static ZT_ENV_ED25519_SK_LEN],
                                         struct zt_buf *out);
void zt_sealed_writer_free(struct zt_sealed_writer *w);

/* Wire v2: from now on the output is records (call before any text; the
 * text functions above then refuse with ZT_EINVAL). */
void zt_sealed_writer_v2(struct zt_sealed_writer *w);
/* A 'T' record: the ids accepted since the last one and the text emitted
 * with them (text over one record is split, later parts without ids).
 * ZT_EINVAL (not v2, over 65535 ids, a negative id), as _text. */
ZT_NODISCARD int zt_sealed_writer_tokens(struct zt_sealed_writer *w, const int32_t *ids, size_t n_ids,
                                         const char *text, size_t len, struct zt_buf *out);
/* A 'K' record holding a signed checkpoint (len bytes). */
ZT_NODISCARD int zt_sealed_writer_checkpoint(struct zt_sealed_writer *w, const uint8_t *rec, size_t len,
                                             struct zt_buf *out);

/* ---- Client side: response reader ------------------------------------------ */

struct zt_sealed_reader;

/* Called for each text chunk as it is opened. The text is not verified
 * until zt_sealed_reader_finish() succeeds: show it as it comes, but drop it
 * (or mark it unverified) if finish fails. */
typedef void (*zt_sealed_text_fn)(void *ud, const char *text, size_t len);

/* Read the response to the job sent (the header zt_env_seal returned), with
 * the reply key pair's secret reply_sk (copied into sodium_malloc'd memory
 * until the stream header arrives, then wiped), the worker's X25519 key
 * (the result must come from it), the worker's Ed25519 key (the receipt
 * must be signed with it) and the SHA-256 of the body sealed. ZT_ENOMEM. */
ZT_NODISCARD int zt_sealed_reader_new(const struct zt_env_header *job,
                                      const uint8_t reply_sk[static ZT_HPKE_SK_LEN],
                                      const uint8_t worker_kem_pk[static ZT_HPKE_PK_LEN],
                                      const uint8_t worker_sign_pk[static ZT_ENV_ED25519_PK_LEN],
                                      const uint8_t input_hash[static ZT_ENV_HASH_LEN],
                                      struct zt_sealed_reader **out);
/* Feed response bytes in any pieces (as the transport delivers them); text
 * chunks go to cb(ud, ...) as soon as they are complete. ZT_EPARSE: bad
 * framing, a bad final chunk, bytes after the receipt; ZT_ECRYPTO: a chunk
 * that does not authenticate (altered, reordered, dropped, from another
 * sender or for another job); ZT_ENOMEM. After a failure the reader is dead
 * and repeats its error. */
ZT_NODISCARD int zt_sealed_reader_feed(struct zt_sealed_reader *r, const uint8_t *p, size_t n,
                                       zt_sealed_text_fn cb, void *ud);

/* Wire v2 reading: what the records hold, as they are opened (not verified
 * until zt_sealed_reader_finish; a checkpoint's signature and numbering
 * are checked before it is delivered). */
struct zt_sealed_v2_hooks {
    void (*tokens)(void *ud, const int32_t *ids, size_t n); /* before the record's text */
    void (*checkpoint)(void *ud, const uint8_t *rec, size_t len, const struct zt_checkpoint *c);
};
/* Read the stream as wire v2 (the body sent was v2): records instead of
 * raw text; text goes to the feed's callback, ids and checkpoints to h
 * (may be NULL). base: the ids the worker was given (a resume), from which
 * it counts. Every checkpoint must verify under the worker's key, name this
 * job, count base + the ids delivered before it; one must come after every
 * ZT_SEALED_CHECKPOINT_EVERY ids (a 'T' record taking the ids since the
 * last one, or since the start, past it is ZT_EPARSE); and the last record
 * must be a FINAL checkpoint whose chain the receipt's seq_chain equals. */
void zt_sealed_reader_v2(struct zt_sealed_reader *r, uint32_t base, const struct zt_sealed_v2_hooks *h, void *ud);

/* What a verified response said. */
struct zt_sealed_result {
    struct zt_sealed_final final;
    struct zt_env_receipt receipt; /* verified */
    uint8_t receipt_bytes[ZT_ENV_RECEIPT_MAX_LEN];
    size_t receipt_len;
    uint64_t text_bytes; /* text delivered through the callback */
    /* wire v2: the FINAL checkpoint (checkpoint_len 0 for v1) and the ids */
    uint8_t checkpoint[ZT_CKPT_MAX_LEN];
    size_t checkpoint_len;
    struct zt_checkpoint ckpt;
    uint32_t n_ids; /* ids delivered (after base) */
};

/* End of the transport: check that the stream was complete (final chunk,
 * then the receipt, nothing after) and the receipt: signature by
 * worker_sign_pk, job id, header hash of the job sent, input hash, output
 * hash of what was opened, token counts equal to the final chunk's.
 * ZT_ECRYPTO: truncated, or a receipt that does not match (the reason says
 * which); the reader's earlier error otherwise. */
ZT_NODISCARD int zt_sealed_reader_finish(struct zt_sealed_reader *r, struct zt_sealed_result *out);
/* A static, human-readable reason for the reader's last failure ("" if none). */
const char *zt_sealed_reader_error(const struct zt_sealed_reader *r);
void zt_sealed_reader_free(struct zt_sealed_reader *r);

#endif
