/* zt_hpke.h: Hybrid Public Key Encryption (RFC 9180) on libsodium.
 *
 * One KEM and one KDF: DHKEM(X25519, HKDF-SHA256) (kem_id 0x0020) and
 * HKDF-SHA256 (kdf_id 0x0001). AEADs: ChaCha20-Poly1305 (0x0003, always
 * available), AES-256-GCM (0x0002, only where libsodium has a hardware
 * implementation: crypto_aead_aes256gcm_is_available()) and export-only
 * (0xFFFF). AES-128-GCM (0x0001) is not in libsodium and is refused.
 * All four modes: base, psk, auth, auth_psk.
 *
 *   uint8_t enc[ZT_HPKE_ENC_LEN];
 *   int rc = zt_hpke_seal(ZT_HPKE_SUITE_CHACHA, NULL, pk_worker,
 *                         header, header_len, body, body_len,
 *                         enc, ct, body_len + ZT_HPKE_TAG_LEN);
 *
 * Every function returns 0 or a negative ZT_E*. Anything that fails for a
 * cryptographic reason (a tag that does not verify, a low-order public key
 * whose Diffie-Hellman output is all zero) returns ZT_ECRYPTO and nothing
 * more specific. ZT_EUNSUPPORTED: a suite this build cannot run.
 * ZT_EINVAL: a malformed call (missing PSK, wrong buffer size, ...).
 *
 * Secrets (private keys derived here, DH outputs, the key schedule, the
 * context's key, nonce and exporter secret) live in sodium_malloc'd memory
 * and are wiped on every path. Private keys passed in stay the caller's:
 * keep them in sodium_malloc'd memory too.
 *
 * Call zt_crypto_init() once before anything here (the functions also call
 * it, so forgetting is harmless). Contexts are not thread-safe: one context,
 * one thread at a time. Distinct contexts are independent. */
#ifndef ZT_HPKE_H
#define ZT_HPKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

#ifndef ZT_X25519_LEN
#define ZT_X25519_LEN 32
#endif
#define ZT_HPKE_PK_LEN ZT_X25519_LEN     /* serialized public key (Npk) */
#define ZT_HPKE_SK_LEN ZT_X25519_LEN     /* serialized private key (Nsk) */
#define ZT_HPKE_ENC_LEN ZT_X25519_LEN    /* encapsulated key (Nenc) */
#define ZT_HPKE_SECRET_LEN 32            /* KEM shared secret (Nsecret), Nh */
#define ZT_HPKE_TAG_LEN 16               /* AEAD tag (Nt): ct = pt + 16 */
#define ZT_HPKE_NONCE_LEN 12             /* AEAD nonce (Nn) */
#define ZT_HPKE_MAX_KEY_LEN 32           /* largest Nk */
#define ZT_HPKE_MAX_EXPORT_LEN (255u * 32u) /* Export L limit, 255 * Nh */
/* Bound on info, psk, psk_id, exporter_context and derive-keypair IKM
 * (RFC 9180 asks for at least 64 bytes; more is refused with ZT_ETOOBIG). */
#define ZT_HPKE_MAX_INPUT_LEN ((size_t)65536)
#define ZT_HPKE_MIN_PSK_LEN 32           /* RFC 9180 5.1.2: >= 32 bytes entropy */

enum zt_hpke_mode {
    ZT_HPKE_MODE_BASE = 0x00,
    ZT_HPKE_MODE_PSK = 0x01,
    ZT_HPKE_MODE_AUTH = 0x02,
    ZT_HPKE_MODE_AUTH_PSK = 0x03,
};

enum {
    ZT_HPKE_KEM_X25519_SHA256 = 0x0020,
    ZT_HPKE_KDF_HKDF_SHA256 = 0x0001,
    ZT_HPKE_AEAD_AES128GCM = 0x0001, /* not supported (not in libsodium) */
    ZT_HPKE_AEAD_AES256GCM = 0x0002,
    ZT_HPKE_AEAD_CHACHA20POLY1305 = 0x0003,
    ZT_HPKE_AEAD_EXPORT_ONLY = 0xFFFF,
};

/* A ciphersuite: the three IANA identifiers. */
struct zt_hpke_suite {
    uint16_t kem_id;
    uint16_t kdf_id;
    uint16_t aead_id;
};

#define ZT_HPKE_SUITE_CHACHA                                                         \
    ((struct zt_hpke_suite){ZT_HPKE_KEM_X25519_SHA256, ZT_HPKE_KDF_HKDF_SHA256,      \
                            ZT_HPKE_AEAD_CHACHA20POLY1305})
#define ZT_HPKE_SUITE_AES256GCM                                                      \
    ((struct zt_hpke_suite){ZT_HPKE_KEM_X25519_SHA256, ZT_HPKE_KDF_HKDF_SHA256,      \
                            ZT_HPKE_AEAD_AES256GCM})
#define ZT_HPKE_SUITE_EXPORT_ONLY                                                    \
    ((struct zt_hpke_suite){ZT_HPKE_KEM_X25519_SHA256, ZT_HPKE_KDF_HKDF_SHA256,      \
                            ZT_HPKE_AEAD_EXPORT_ONLY})

/* Mode parameters. NULL means base mode with an empty info. Pointers are
 * borrowed for the duration of the call only.
 *   psk, psk_id: psk and auth_psk modes (both, psk_len >= 32); NULL otherwise.
 *   sender_sk:   auth modes, sender side: the sender's private key (32 bytes).
 *   sender_pk:   auth modes, recipient side: the sender's public key. */
struct zt_hpke_params {
    enum zt_hpke_mode mode;
    const uint8_t *info;
    size_t info_len;
    const uint8_t *psk;
    size_t psk_len;
    const uint8_t *psk_id;
    size_t psk_id_len;
    const uint8_t *sender_sk;
    const uint8_t *sender_pk;
};

/* An encryption context (RFC 9180 5.2): key, base nonce, sequence number
 * and exporter secret, in sodium_malloc'd memory. Opaque. */
struct zt_hpke_ctx;

/* True if this build and CPU can run aead_id (ChaCha20-Poly1305 and
 * export-only always; AES-256-GCM with AES-NI/PCLMUL or ARM crypto). */
bool zt_hpke_aead_available(uint16_t aead_id);
/* "ChaCha20-Poly1305", "AES-256-GCM", ... or "unknown". Static string. */
const char *zt_hpke_aead_name(uint16_t aead_id);

/* ---- Keys ---------------------------------------------------------------- */

/* A fresh random X25519 key pair (libsodium randombytes). ZT_ECRYPTO if the
 * library cannot initialise. */
ZT_NODISCARD int zt_hpke_keypair(uint8_t sk[static ZT_HPKE_SK_LEN],
                                 uint8_t pk[static ZT_HPKE_PK_LEN]);

/* DeriveKeyPair(ikm) of RFC 9180 7.1.3 for DHKEM(X25519, HKDF-SHA256):
 * deterministic; the same ikm always gives the same pair. ikm needs
 * at least 32 bytes of entropy: ikm_len < 32 is ZT_EINVAL, more than
 * ZT_HPKE_MAX_INPUT_LEN is ZT_ETOOBIG. */
ZT_NODISCARD int zt_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len,
                                        uint8_t sk[static ZT_HPKE_SK_LEN],
                                        uint8_t pk[static ZT_HPKE_PK_LEN]);

/* The public key of sk. */
ZT_NODISCARD int zt_hpke_public_key(const uint8_t sk[static ZT_HPKE_SK_LEN],
                                    uint8_t pk[static ZT_HPKE_PK_LEN]);

/* ---- Contexts ------------------------------------------------------------ */

/* Sender side: encapsulate to pk_r with a fresh random ephemeral key, run
 * the key schedule and return a context in *out and the encapsulated key in
 * enc (send it with the ciphertexts). *out and enc are written only on
 * success; free the context with zt_hpke_ctx_free().
 * ZT_EUNSUPPORTED: suite; ZT_EINVAL: params inconsistent with the mode;
 * ZT_ETOOBIG: an input over ZT_HPKE_MAX_INPUT_LEN; ZT_ECRYPTO: pk_r (or the
 * sender key) gives an all-zero DH output; ZT_ENOMEM. */
ZT_NODISCARD int zt_hpke_setup_sender(struct zt_hpke_suite suite,
                                      const struct zt_hpke_params *params,
                                      const uint8_t pk_r[static ZT_HPKE_PK_LEN],
                                      uint8_t enc[static ZT_HPKE_ENC_LEN],
                                      struct zt_hpke_ctx **out);

/* Recipient side: decapsulate enc with sk_r and return the matching
 * context. In auth modes params->sender_pk authenticates the sender; a wrong
 * key gives a context whose opens fail (or ZT_ECRYPTO here for a low-order
 * key). Errors as zt_hpke_setup_sender(). */
ZT_NODISCARD int zt_hpke_setup_receiver(struct zt_hpke_suite suite,
                                        const struct zt_hpke_params *params,
                                        const uint8_t enc[static ZT_HPKE_ENC_LEN],
                                        const uint8_t sk_r[static ZT_HPKE_SK_LEN],
                                        struct zt_hpke_ctx **out);

/* Seal the next message: ct (ct_size >= pt_len + ZT_HPKE_TAG_LEN; exactly
 * pt_len + ZT_HPKE_TAG_LEN bytes are written) = AEAD(key, base_nonce XOR seq,
 * aad, pt), then seq += 1. The caller never picks the nonce, so a context
 * cannot reuse one. ct must not overlap pt. Sender contexts only.
 * ZT_EINVAL: receiver context or ct_size too small; ZT_ETOOBIG: pt_len over
 * the AEAD's limit; ZT_ERANGE: sequence numbers exhausted (the context is
 * spent; set up a new one); ZT_EUNSUPPORTED: export-only suite. */
ZT_NODISCARD int zt_hpke_ctx_seal(struct zt_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
                                  const uint8_t *pt, size_t pt_len, uint8_t *ct,
                                  size_t ct_size);

/* Open the next message (the sender's seal with the same seq): pt
 * (pt_size >= ct_len - ZT_HPKE_TAG_LEN; exactly that many bytes written).
 * On success seq += 1; on failure seq is unchanged, pt is zeroed and the
 * result is ZT_ECRYPTO (forged, tampered, reordered or for someone else) or
 * ZT_EINVAL (ct_len < ZT_HPKE_TAG_LEN, pt_size too small, sender context).
 * pt must not overlap ct. Recipient contexts only. */
ZT_NODISCARD int zt_hpke_ctx_open(struct zt_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
                                  const uint8_t *ct, size_t ct_len, uint8_t *pt,
                                  size_t pt_size);

/* Export(exporter_context, L): L (1..ZT_HPKE_MAX_EXPORT_LEN) bytes of secret
 * derived from the context, identical on both sides. Either role; does not
 * touch seq. ZT_ERANGE: L out of range; ZT_ETOOBIG: context too long. */
ZT_NODISCARD int zt_hpke_ctx_export(const struct zt_hpke_ctx *ctx,
                                    const uint8_t *exporter_context, size_t context_len,
                                    uint8_t *out, size_t out_len);

/* The sequence number of the next seal/open. */
uint64_t zt_hpke_ctx_seq(const struct zt_hpke_ctx *ctx);

/* Wipe and free (sodium_free). NULL is a no-op. */
void zt_hpke_ctx_free(struct zt_hpke_ctx *ctx);

/* ---- Single shot (RFC 9180 6.1) ---------------------------------------- */

/* SealBase/SealPSK/SealAuth/SealAuthPSK: setup_sender + one seal with
 * seq 0, nothing kept. enc receives the encapsulated key, ct
 * (ct_size >= pt_len + ZT_HPKE_TAG_LEN) the ciphertext. Errors as
 * zt_hpke_setup_sender() and zt_hpke_ctx_seal(). */
ZT_NODISCARD int zt_hpke_seal(struct zt_hpke_suite suite, const struct zt_hpke_params *params,
                              const uint8_t pk_r[static ZT_HPKE_PK_LEN], const uint8_t *aad,
                              size_t aad_len, const uint8_t *pt, size_t pt_len,
                              uint8_t enc[static ZT_HPKE_ENC_LEN], uint8_t *ct, size_t ct_size);

/* The matching open: pt (pt_size >= ct_len - ZT_HPKE_TAG_LEN). Errors as
 * zt_hpke_setup_receiver() and zt_hpke_ctx_open(); pt is zeroed on failure. */
ZT_NODISCARD int zt_hpke_open(struct zt_hpke_suite suite, const struct zt_hpke_params *params,
                              const uint8_t enc[static ZT_HPKE_ENC_LEN],
                              const uint8_t sk_r[static ZT_HPKE_SK_LEN], const uint8_t *aad,
                              size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt,
                              size_t pt_size);

#endif
