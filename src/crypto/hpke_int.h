/* hpke_int.h: internal hooks of src/crypto/hpke.c shared with the tests
 * (tests/unit/test_hpke.c); not part of the public API (zt_hpke.h). */
#ifndef ZT_CRYPTO_HPKE_INT_H
#define ZT_CRYPTO_HPKE_INT_H

#include "zentalk/zt_hpke.h"

/* Internal hooks shared with tests (zt__ = not a public API). */
enum {
    ZT__HPKE_TEST_NO_AESGCM = 1u << 0,    /* behave as if the CPU had no AES-GCM */
    ZT__HPKE_TEST_SCHEDULE_ONLY = 1u << 1 /* let AES-128-GCM contexts be set up
                                             (key schedule and export only) */
};
void zt__hpke_test_set_flags(unsigned flags);
/* KEM alone: Encap/AuthEncap (sk_s NULL for Encap) with a fixed ephemeral
 * key, and Decap/AuthDecap (pk_s NULL for Decap). */
ZT_NODISCARD int zt__hpke_encap_fixed(const uint8_t pk_r[static ZT_HPKE_PK_LEN],
                                      const uint8_t sk_e[static ZT_HPKE_SK_LEN],
                                      const uint8_t *sk_s,
                                      uint8_t shared_secret[static ZT_HPKE_SECRET_LEN],
                                      uint8_t enc[static ZT_HPKE_ENC_LEN]);
ZT_NODISCARD int zt__hpke_decap(const uint8_t enc[static ZT_HPKE_ENC_LEN],
                                const uint8_t sk_r[static ZT_HPKE_SK_LEN], const uint8_t *pk_s,
                                uint8_t shared_secret[static ZT_HPKE_SECRET_LEN]);
/* Copy out the context's key (*key_len = Nk), base nonce and exporter secret. */
void zt__hpke_ctx_secrets(const struct zt_hpke_ctx *ctx, uint8_t key[static ZT_HPKE_MAX_KEY_LEN],
                          size_t *key_len, uint8_t base_nonce[static ZT_HPKE_NONCE_LEN],
                          uint8_t exporter_secret[static ZT_HPKE_SECRET_LEN]);
/* Jump the sequence number (to reach seq 255 or the overflow edge). */
void zt__hpke_ctx_set_seq(struct zt_hpke_ctx *ctx, uint64_t seq);

/* ---- Deterministic and test entry points --------------------------------
 * For known-answer tests only. Reusing an ephemeral key across messages
 * destroys HPKE's security: production code calls zt_hpke_setup_sender(). */

/* setup_sender with the ephemeral private key sk_e given instead of drawn
 * (derive it with zt_hpke_derive_keypair(ikmE) to reproduce RFC 9180 A). */
ZT_NODISCARD int zt_hpke_setup_sender_fixed_ephemeral(struct zt_hpke_suite suite,
                                                      const struct zt_hpke_params *params,
                                                      const uint8_t pk_r[static ZT_HPKE_PK_LEN],
                                                      const uint8_t sk_e[static ZT_HPKE_SK_LEN],
                                                      uint8_t enc[static ZT_HPKE_ENC_LEN],
                                                      struct zt_hpke_ctx **out);

#endif
