/* zt_envelope.h: sealed jobs. The job envelope a client seals to a worker,
 * the result stream the worker seals back, the receipt the worker signs, and
 * the replay cache that accepts a job id once.
 *
 * Byte-by-byte format and threat model:
 * docs/architecture/SECURE_GPU_ENCRYPTION.md. Short guide:
 * docs/internals/envelope.md.
 *
 *   envelope = header || HPKE ciphertext(body)
 *     header: cleartext, canonical, the AEAD's associated data; carries what
 *     the orchestrator needs to route (model, max_tokens, price, expiry) and
 *     nothing of the prompt.
 *     HPKE base mode to the worker's X25519 key, info "zentalk-job-v1".
 *   result  = stream header || chunk || chunk || ... || final chunk
 *     one HPKE auth-mode context from the worker's X25519 key to the client's
 *     reply key, info "zentalk-result-v1" || SHA-256(header); each chunk's
 *     AAD holds its index and final flag.
 *   receipt = canonical body || Ed25519 signature (worker identity key).
 *
 * Every hash here is SHA-256. All integers are big-endian. Every function
 * returns 0 or a negative ZT_E*; out-parameters are written only on
 * success. Parsers take untrusted bytes and answer a specific code:
 *   ZT_EPARSE        malformed (bad magic, a length past the end, a field out
 *                    of range, trailing bytes)
 *   ZT_EUNSUPPORTED  well-formed but unknown (version, suite, flag bits)
 *   ZT_ENOTFOUND     an envelope for another recipient key
 *   ZT_ETIMEDOUT     expired, or not valid yet (created beyond clock skew)
 *   ZT_EEXIST        a job id already accepted (replay)
 *   ZT_EBUSY         the replay cache is full of unexpired ids
 *   ZT_ECRYPTO       authentication failed; nothing more specific
 * Thread safety: the replay cache is thread-safe; sealers and openers are
 * one-thread-at-a-time objects; everything else is stateless. */
#ifndef ZT_ENVELOPE_H
#define ZT_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"
#include "zt_hpke.h"

#define ZT_ENV_VERSION 1
#define ZT_ENV_JOB_ID_LEN 16
#define ZT_ENV_KID_LEN 16           /* BLAKE2b-256(X25519 pk)[0..16) */
#define ZT_ENV_HASH_LEN 32          /* SHA-256 */
#define ZT_ENV_MODEL_MAX 128        /* bytes of UTF-8, no control characters */
#define ZT_ENV_HEADER_FIXED_LEN 137 /* header bytes before the model id */
#define ZT_ENV_HEADER_MAX_LEN (ZT_ENV_HEADER_FIXED_LEN + ZT_ENV_MODEL_MAX)
#define ZT_ENV_MAX_TOKENS (1u << 20)              /* max_tokens in 1..this */
#define ZT_ENV_MAX_BODY ((size_t)16 << 20)        /* sealed body plaintext */
#define ZT_ENV_MAX_LIFETIME ((uint64_t)7 * 86400) /* expires - created */
#define ZT_ENV_CLOCK_SKEW ((uint64_t)300)         /* created may be this far ahead */

/* Header flags (byte 5). Unknown bits are ZT_EUNSUPPORTED. */
#define ZT_ENV_FLAG_STREAM 0x01u /* the client wants the result as a stream */
#define ZT_ENV_FLAGS_KNOWN ZT_ENV_FLAG_STREAM

#define ZT_ENV_ED25519_PK_LEN 32
#define ZT_ENV_ED25519_SK_LEN 64 /* libsodium's crypto_sign_SECRETKEYBYTES */
#define ZT_ENV_SIG_LEN 64

/* The cleartext job header. Fixed size: decoding allocates nothing. */
struct zt_env_header {
    uint8_t version;                       /* ZT_ENV_VERSION */
    uint8_t flags;                         /* ZT_ENV_FLAG_* */
    struct zt_hpke_suite suite;            /* X25519/HKDF-SHA256 + ChaCha or AES-256-GCM */
    uint8_t job_id[ZT_ENV_JOB_ID_LEN];     /* random, zt_env_job_id_new() */
    uint8_t recipient_kid[ZT_ENV_KID_LEN]; /* zt_env_key_id(worker pk) */
    uint8_t enc[ZT_HPKE_ENC_LEN];          /* HPKE encapsulated key */
    uint8_t reply_pk[ZT_HPKE_PK_LEN];      /* client's X25519 key for the result */
    uint64_t created;                      /* unix seconds */
    uint64_t expires;                      /* unix seconds, > created */
    uint32_t max_tokens;                   /* 1..ZT_ENV_MAX_TOKENS */
    uint64_t max_price;                    /* the client's price ceiling per 1000 tokens, prompt and
                                            * completion alike, in ledger base units; 0 = no limit */
    uint8_t model_len;                     /* 1..ZT_ENV_MODEL_MAX */
    char model[ZT_ENV_MODEL_MAX + 1];      /* NUL-terminated copy */
};

/* ---- Identifiers ----------------------------------------------------------- */

/* 16 fresh random bytes (libsodium randombytes). */
void zt_env_job_id_new(uint8_t job_id[static ZT_ENV_JOB_ID_LEN]);

/* The recipient key id of an X25519 public key: the first 16 bytes of
 * BLAKE2b-256(pk). */
void zt_env_key_id(const uint8_t pk[static ZT_HPKE_PK_LEN], uint8_t kid[static ZT_ENV_KID_LEN]);

/* ---- Header ---------------------------------------------------------------- */

/* Check every field of h as the parser would (ZT_EPARSE / ZT_EUNSUPPORTED);
 * model must be NUL-terminated with model_len == strlen(model). */
ZT_NODISCARD int zt_env_header_validate(const struct zt_env_header *h);

/* Encode h (validated first) into out (out_size >= its length) and set
 * *out_len. ZT_EINVAL: out too small. The encoding is canonical: one header,
 * one byte string. */
ZT_NODISCARD int zt_env_header_encode(const struct zt_env_header *h, uint8_t *out, size_t out_size,
                                      size_t *out_len);

/* Decode exactly one header from buf[0..len): trailing bytes are ZT_EPARSE.
 * No time check (zt_env_open() does that). */
ZT_NODISCARD int zt_env_header_decode(const uint8_t *buf, size_t len, struct zt_env_header *out);

/* Decode the header at the start of buf and report its length in *used
 * (the bytes after it are the ciphertext). */
ZT_NODISCARD int zt_env_header_decode_prefix(const uint8_t *buf, size_t len,
                                             struct zt_env_header *out, size_t *used);

/* SHA-256 of the header's canonical encoding (what the receipt holds and the
 * result stream is bound to). Errors as zt_env_header_encode(). */
ZT_NODISCARD int zt_env_header_hash(const struct zt_env_header *h,
                                    uint8_t out[static ZT_ENV_HASH_LEN]);

/* ---- Replay cache ---------------------------------------------------------- */

/* A bounded set of (job id, expires). An id is held until its expiry has
 * passed; expired ids are evicted when room is needed. A full cache of
 * unexpired ids refuses new jobs (ZT_EBUSY) rather than forget one, which
 * would let it be replayed. Thread-safe. */
struct zt_env_replay;

#define ZT_ENV_REPLAY_MAX ((size_t)1 << 20) /* table: 2 x 2^21 slots x 24 B */

/* capacity: 1..ZT_ENV_REPLAY_MAX ids (ZT_ERANGE otherwise). Allocates once. */
ZT_NODISCARD int zt_env_replay_new(size_t capacity, struct zt_env_replay **out);
void zt_env_replay_free(struct zt_env_replay *rc);

/* ZT_EEXIST if job_id is held with expires > now; 0 otherwise. */
ZT_NODISCARD int zt_env_replay_check(struct zt_env_replay *rc,
                                     const uint8_t job_id[static ZT_ENV_JOB_ID_LEN], uint64_t now);

/* Record job_id until expires (atomic check-and-insert). ZT_EEXIST: held and
 * unexpired; ZT_EBUSY: full after evicting expired ids; ZT_EINVAL: expires
 * <= now. */
ZT_NODISCARD int zt_env_replay_insert(struct zt_env_replay *rc,
                                      const uint8_t job_id[static ZT_ENV_JOB_ID_LEN],
                                      uint64_t expires, uint64_t now);

/* Ids held (expired ones not yet evicted included). */
size_t zt_env_replay_count(struct zt_env_replay *rc);

/* ---- Envelope -------------------------------------------------------------- */

/* Seal body to the worker key pk_r. tmpl gives flags, suite, job_id,
 * reply_pk, created, expires, max_tokens, max_price and the model; seal
 * fills version, recipient_kid and enc. On success *out (zt_malloc'd; free
 * with zt_free) holds header || ciphertext, *out_len its length, and *hdr_out
 * (may be NULL) the completed header.
 * ZT_EPARSE/ZT_EUNSUPPORTED: a template field out of range; ZT_ETOOBIG:
 * body_len > ZT_ENV_MAX_BODY; ZT_ECRYPTO: pk_r is a low-order point;
 * ZT_ENOMEM. */
ZT_NODISCARD int zt_env_seal(const struct zt_env_header *tmpl,
                             const uint8_t pk_r[static ZT_HPKE_PK_LEN], const uint8_t *body,
                             size_t body_len, struct zt_env_header *hdr_out, uint8_t **out,
                             size_t *out_len);

/* Open an envelope with the worker's private key at time now (unix seconds).
 * Order: parse the header (ZT_EPARSE/ZT_EUNSUPPORTED), recipient key id
 * (ZT_ENOTFOUND), time window (ZT_ETIMEDOUT), replay look-up (ZT_EEXIST),
 * decrypt (ZT_ECRYPTO), then record the job id in the replay cache (ZT_EEXIST
 * if a concurrent open won, ZT_EBUSY if full). The id is recorded only after
 * the ciphertext authenticates, so a forged envelope cannot burn a real job's
 * id. replay may be NULL only in tools that handle replay themselves.
 * On success *hdr_out is the header, *body (zt_malloc'd, free with
 * zt_env_body_free()) and *body_len the plaintext (a zero-length body gives
 * a non-NULL 1-byte allocation). */
ZT_NODISCARD int zt_env_open(const uint8_t sk_r[static ZT_HPKE_SK_LEN], const uint8_t *env,
                             size_t env_len, uint64_t now, struct zt_env_replay *replay,
                             struct zt_env_header *hdr_out, uint8_t **body, size_t *body_len);

/* Wipe and free a body from zt_env_open(). NULL is a no-op. */
void zt_env_body_free(uint8_t *body, size_t body_len);

/* ---- Result stream --------------------------------------------------------- */

/* stream header: "ZTS1" || job_id (16) || enc (32)
 * chunk:         flags (1; bit 0 = final) || ct_len (u32) || ct
 *                AAD = "ZTC1" || index (u64) || flags; ct_len = pt_len + 16 */
#define ZT_ENV_STREAM_HDR_LEN (4 + ZT_ENV_JOB_ID_LEN + ZT_HPKE_ENC_LEN)
#define ZT_ENV_CHUNK_PREFIX_LEN 5
#define ZT_ENV_CHUNK_OVERHEAD (ZT_ENV_CHUNK_PREFIX_LEN + ZT_HPKE_TAG_LEN)
#define ZT_ENV_CHUNK_MAX ((size_t)1 << 20) /* plaintext bytes per chunk */
#define ZT_ENV_CHUNK_FINAL 0x01u

struct zt_env_result_sealer; /* worker side */
struct zt_env_result_opener; /* client side */

/* Worker: set up an HPKE auth-mode context (RFC 9180 5.1.3) from the
 * worker's X25519 key worker_sk (the one the job was sealed to) to
 * job->reply_pk, suite job->suite, and write the stream header, to be sent
 * before the first chunk. Auth mode means only the holder of worker_sk can
 * produce a stream the client accepts: a relay that saw the cleartext header
 * cannot forge results. ZT_ECRYPTO: reply_pk is a low-order point; ZT_ENOMEM. */
ZT_NODISCARD int zt_env_result_sealer_new(const struct zt_env_header *job,
                                          const uint8_t worker_sk[static ZT_HPKE_SK_LEN],
                                          uint8_t stream_hdr[static ZT_ENV_STREAM_HDR_LEN],
                                          struct zt_env_result_sealer **out);

/* Seal the next chunk of output (pt_len 0..ZT_ENV_CHUNK_MAX; an empty final
 * chunk ends a stream whose length was not known) into out (out_size >=
 * pt_len + ZT_ENV_CHUNK_OVERHEAD), *out_len = the chunk's length.
 * ZT_ECLOSED: the final chunk was already sealed; ZT_ETOOBIG: pt_len;
 * ZT_EINVAL: out too small. */
ZT_NODISCARD int zt_env_result_seal(struct zt_env_result_sealer *s, const uint8_t *pt,
                                    size_t pt_len, bool final, uint8_t *out, size_t out_size,
                                    size_t *out_len);

/* SHA-256 of all plaintext sealed so far, as one byte string (chunking does
 * not change it): the receipt's output hash. ZT_EINVAL before the final chunk. */
ZT_NODISCARD int zt_env_result_sealer_output_hash(const struct zt_env_result_sealer *s,
                                                  uint8_t out[static ZT_ENV_HASH_LEN]);
void zt_env_result_sealer_free(struct zt_env_result_sealer *s);

/* Client: check the stream header against the job it sent (ZT_EPARSE: bad
 * magic or length; ZT_ECRYPTO: another job's stream or a low-order enc) and
 * set up the receiving context with reply_sk, authenticating the sender as
 * worker_pk (the key the job was sealed to): a stream from anyone else fails
 * on its first chunk with ZT_ECRYPTO. */
ZT_NODISCARD int zt_env_result_opener_new(const struct zt_env_header *job,
                                          const uint8_t reply_sk[static ZT_HPKE_SK_LEN],
                                          const uint8_t worker_pk[static ZT_HPKE_PK_LEN],
                                          const uint8_t *stream_hdr, size_t stream_hdr_len,
                                          struct zt_env_result_opener **out);

/* Framing helper for a byte stream: from the first bytes of a chunk, its
 * total length in *frame_len (0 while fewer than ZT_ENV_CHUNK_PREFIX_LEN
 * bytes are available). ZT_EPARSE: unknown flag bits or a length out of
 * range. */
ZT_NODISCARD int zt_env_result_frame_len(const uint8_t *buf, size_t len, size_t *frame_len);

/* Open exactly one chunk (chunk_len must equal its framed length) into pt
 * (pt_size >= chunk_len - ZT_ENV_CHUNK_OVERHEAD); *pt_len, *final set.
 * Chunks must arrive in order: a missing, reordered, duplicated, altered or
 * re-flagged chunk is ZT_ECRYPTO; bad framing is ZT_EPARSE; a chunk after
 * the final one is ZT_EPARSE. After any failure the opener is dead and
 * returns that error again. ZT_EINVAL: pt too small (not fatal). */
ZT_NODISCARD int zt_env_result_open(struct zt_env_result_opener *o, const uint8_t *chunk,
                                    size_t chunk_len, uint8_t *pt, size_t pt_size, size_t *pt_len,
                                    bool *final);

/* End of the transport: 0 if the final chunk was opened, else ZT_ECRYPTO
 * (the stream was truncated) or the opener's earlier error. */
ZT_NODISCARD int zt_env_result_finish(const struct zt_env_result_opener *o);

/* SHA-256 of all opened plaintext; ZT_EINVAL before the final chunk. Compare
 * with the receipt's output hash. */
ZT_NODISCARD int zt_env_result_opener_output_hash(const struct zt_env_result_opener *o,
                                                  uint8_t out[static ZT_ENV_HASH_LEN]);
void zt_env_result_opener_free(struct zt_env_result_opener *o);

/* ---- Receipt --------------------------------------------------------------- */

#define ZT_ENV_BUILD_ID_MAX 64 /* printable ASCII (0x20..0x7e) */
#define ZT_ENV_RECEIPT_FIXED_LEN 198
#define ZT_ENV_RECEIPT_MAX_LEN (ZT_ENV_RECEIPT_FIXED_LEN + ZT_ENV_BUILD_ID_MAX + ZT_ENV_SIG_LEN)

/* What a worker attests for one job. */
struct zt_env_receipt {
    uint8_t version; /* ZT_ENV_VERSION */
    uint8_t job_id[ZT_ENV_JOB_ID_LEN];
    uint8_t header_hash[ZT_ENV_HASH_LEN]; /* zt_env_header_hash() */
    uint8_t input_hash[ZT_ENV_HASH_LEN];  /* SHA-256 of the opened body */
    uint8_t output_hash[ZT_ENV_HASH_LEN]; /* zt_env_result_sealer_output_hash() */
    uint32_t prompt_tokens;
    uint32_t completion_tokens;
    uint8_t seq_chain[ZT_ENV_HASH_LEN];       /* the sampler's sequence hash chain */
    uint8_t worker_pk[ZT_ENV_ED25519_PK_LEN]; /* set by zt_env_receipt_sign() */
    uint64_t finished;                        /* unix seconds */
    uint8_t build_id_len;                     /* 1..ZT_ENV_BUILD_ID_MAX */
    char build_id[ZT_ENV_BUILD_ID_MAX + 1];   /* NUL-terminated */
};

/* Sign r with the worker's Ed25519 key (libsodium's 64-byte secret key;
 * worker_pk is taken from it, r->version set to ZT_ENV_VERSION) into out
 * (out_size >= ZT_ENV_RECEIPT_MAX_LEN is always enough), *out_len set.
 * ZT_EPARSE: build_id empty, too long or not printable ASCII; ZT_EINVAL:
 * out too small. */
ZT_NODISCARD int zt_env_receipt_sign(const struct zt_env_receipt *r,
                                     const uint8_t sk[static ZT_ENV_ED25519_SK_LEN], uint8_t *out,
                                     size_t out_size, size_t *out_len);

/* Parse and verify a signed receipt. pk: the worker key expected (a
 * different embedded key is ZT_ECRYPTO), or NULL to trust the embedded key
 * (then check *out->worker_pk against the registry). ZT_EPARSE/
 * ZT_EUNSUPPORTED: malformed; ZT_ECRYPTO: any change to a signed byte. */
ZT_NODISCARD int zt_env_receipt_verify(const uint8_t *buf, size_t len, const uint8_t *pk,
                                       struct zt_env_receipt *out);

#endif
