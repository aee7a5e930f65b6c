/* zt_attest.h: attestation reports, signed by a node's identity key.
 *
 * A report answers a client's nonce with what the node claims to run:
 *
 *   {"binary_sha256":hex, "ed25519_pk":hex, "engine":"zentalk-engine/...",
 *    "evidence":[], "issued_at":unix_seconds, "kem_pk":hex,
 *    "models":[{"id":"...","sha256":hex},...], "node_id":"zt1...",
 *    "nonce":hex, "sig":hex, "type":"software", "v":1}
 *
 * canonical JSON (sorted keys, no spaces); sig is Ed25519 by ed25519_pk over
 * the same canonical JSON without "sig", and node_id is derived from
 * ed25519_pk (zt_identity.h). A "software" report proves that the holder of
 * the node key vouched for these values after seeing the nonce; it proves
 * nothing about the hardware or that the claims are true. Hardware types
 * ("tdx", "sev-snp", "nvidia-cc") would carry their quotes in "evidence" as
 * {"type":...,"quote":...} objects; this version neither produces nor checks
 * them (zt_attest_verify() answers ZT_EUNSUPPORTED). See
 * docs/privacy/ATTESTATION.md. */
#ifndef ZT_ATTEST_H
#define ZT_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"
#include "zt_hash.h"
#include "zt_identity.h"

#define ZT_ATTEST_VERSION 1
#define ZT_ATTEST_NONCE_MIN 16 /* bytes (32 hex digits) */
#define ZT_ATTEST_NONCE_MAX 64 /* bytes (128 hex digits) */
#define ZT_ATTEST_NONCE_HEX_SIZE (2 * ZT_ATTEST_NONCE_MAX + 1)
#define ZT_ATTEST_MAX ((size_t)1 << 20)     /* bytes of a report */
#define ZT_ATTEST_MAX_MODELS 256
#define ZT_ATTEST_MAX_STR 256               /* bytes of a model id or engine */
#define ZT_ATTEST_MAX_EVIDENCE 8

/* One model the node has loaded. */
struct zt_attest_model {
    const char *id;
    uint8_t sha256[ZT_SHA256_LEN]; /* of the GGUF file */
};

/* What a software report states besides the node's keys. */
struct zt_attest_claims {
    const char *nonce_hex; /* the client's nonce (zt_attest_nonce_valid) */
    uint8_t binary_sha256[ZT_SHA256_LEN];
    const char *engine; /* zt_engine_build_id() */
    const struct zt_attest_model *models;
    size_t n_models;
    int64_t issued_at; /* unix seconds */
};

/* True if s is 32..128 hex digits, an even count (upper or lower case). */
bool zt_attest_nonce_valid(const char *s);

/* Build and sign id's software report for c. The nonce is written in lower
 * case. *out (NUL-terminated, free with zt_free) is written only on success.
 * ZT_EINVAL: a bad nonce or an empty/oversized/non-UTF-8 string, too many
 * models; ZT_ETOOBIG; ZT_ENOMEM; ZT_ECRYPTO. */
ZT_NODISCARD int zt_attest_report(const struct zt_identity *id, const struct zt_attest_claims *c,
                                  char **out);

/* A verified report, as zt_attest_verify() returns it. engine and models
 * are zt_malloc'd; release with zt_attest_report_deinit(). */
struct zt_attest_report {
    char type[16];
    char node_id[ZT_IDENTITY_ID_SIZE];
    uint8_t ed25519_pk[ZT_ED25519_PK_LEN];
    uint8_t kem_pk[ZT_X25519_LEN];
    char nonce[ZT_ATTEST_NONCE_HEX_SIZE]; /* lower-case hex */
    uint8_t binary_sha256[ZT_SHA256_LEN];
    char *engine;
    struct zt_attest_report_model {
        char *id;
        uint8_t sha256[ZT_SHA256_LEN];
    } *models;
    size_t n_models;
    int64_t issued_at;
};

/* Check a report (len bytes of JSON):
 *   ZT_ETOOBIG       over ZT_ATTEST_MAX;
 *   ZT_EPARSE        not JSON, a missing/extra key, a wrong type, bad hex or
 *                    length, a bound exceeded, non-empty evidence for type
 *                    "software";
 *   ZT_EUNSUPPORTED  "v" other than 1, or a hardware type (this version
 *                    cannot check hardware evidence) or an unknown type;
 *   ZT_ECRYPTO       node_id not derived from ed25519_pk, or a bad signature;
 *   ZT_ETIMEDOUT     not fresh: the nonce is not expected_nonce_hex
 *                    (compared without regard to case), so a replay or an
 *                    answer to someone else. NULL skips this check, for
 *                    tools that only inspect a stored report.
 * Signature before nonce: ZT_ETIMEDOUT means a genuine but stale report.
 * out (may be NULL) is filled only on success. */
ZT_NODISCARD int zt_attest_verify(const char *json, size_t len, const char *expected_nonce_hex,
                                  struct zt_attest_report *out);

/* Free what a verified report holds and zero it. NULL is a no-op. */
void zt_attest_report_deinit(struct zt_attest_report *r);

/* SHA-256 of the running binary (/proc/self/exe): what a report states
 * as binary_sha256. ZT_EIO (errno kept), ZT_ENOMEM. */
ZT_NODISCARD int zt_attest_self_sha256(uint8_t out[static 32]);

/* ---- file hashes kept (the models a report lists) ---------------------
 * Hashing gigabytes takes seconds: a file's SHA-256 is kept in a slot (one
 * per configured model) and reused while the file's size and modification
 * time stay the same. Thread-safe. */
struct zt_attest_hashes;
/* n slots. ZT_ENOMEM. */
ZT_NODISCARD int zt_attest_hashes_new(size_t n, struct zt_attest_hashes **out);
/* NULL is a no-op. */
void zt_attest_hashes_free(struct zt_attest_hashes *h);
/* The SHA-256 of the file at path, from slot (kept when slot < n) or
 * computed now, outside the lock (two first callers may both hash, which
 * is harmless). *hashed_bytes: the file's size when it was hashed now, -1
 * when the kept hash served. ZT_EIO, ZT_ENOMEM. */
ZT_NODISCARD int zt_attest_hashes_get(struct zt_attest_hashes *h, size_t slot, const char *path,
                                      uint8_t out[static 32], int64_t *hashed_bytes);

#endif
