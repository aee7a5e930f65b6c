/* hpke.c: HPKE (RFC 9180) built from libsodium primitives.
 *
 * KEM  DHKEM(X25519, HKDF-SHA256)  crypto_scalarmult (curve25519)
 * KDF  HKDF-SHA256                 crypto_auth_hmacsha256 (Extract = HMAC,
 *                                  Expand = the RFC 5869 T(i) chain)
 * AEAD ChaCha20-Poly1305           crypto_aead_chacha20poly1305_ietf
 *      AES-256-GCM                 crypto_aead_aes256gcm (hardware only)
 *      export-only                 no AEAD
 *
 * Names follow the RFC's pseudocode (LabeledExtract, ExtractAndExpand,
 * KeySchedule, ...) so the two can be read side by side. Every secret
 * intermediate sits in a sodium_malloc'd scratch block (guard pages, mlock)
 * wiped before the call returns; a context is one sodium_malloc'd block that
 * carries its setup scratch. See docs/internals/hpke.md. */
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

#include "zentalk/zt_crypto.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_hpke.h"
#include "hpke_int.h"
#include "zentalk/zt_log.h"

#define NH 32u                          /* HKDF-SHA256 output */
#define KEM_SUITE_ID_LEN 5u             /* "KEM" || I2OSP(kem_id, 2) */
#define HPKE_SUITE_ID_LEN 10u           /* "HPKE" || kem || kdf || aead */
#define KSC_LEN (1u + 2u * NH)          /* mode || psk_id_hash || info_hash */

static const uint8_t HPKE_V1[7] = {'H', 'P', 'K', 'E', '-', 'v', '1'};
static const uint8_t EMPTY[1] = {0}; /* stands in for NULL, length 0 */

enum aead_kind { AEAD_CHACHA, AEAD_AESGCM, AEAD_NONE };

struct aead_desc {
    uint16_t id;
    enum aead_kind kind;
    size_t nk, nn;       /* key and nonce lengths; 0 for export-only */
    const char *name;
    bool seals;          /* false: export only (0xFFFF, or AES-128 schedule-only) */
};

static const struct aead_desc AEADS[] = {
    {ZT_HPKE_AEAD_AES128GCM, AEAD_NONE, 16, ZT_HPKE_NONCE_LEN, "AES-128-GCM", false},
    {ZT_HPKE_AEAD_AES256GCM, AEAD_AESGCM, 32, ZT_HPKE_NONCE_LEN, "AES-256-GCM", true},
    {ZT_HPKE_AEAD_CHACHA20POLY1305, AEAD_CHACHA, 32, ZT_HPKE_NONCE_LEN, "ChaCha20-Poly1305", true},
    {ZT_HPKE_AEAD_EXPORT_ONLY, AEAD_NONE, 0, 0, "export-only", false},
};

enum role { ROLE_SENDER = 1, ROLE_RECEIVER = 2 };

/* Per-call secrets: sodium_malloc'd, wiped before the call returns. */
struct scratch {
    uint8_t sk_e[ZT_HPKE_SK_LEN];
    uint8_t dh[2 * ZT_X25519_LEN];
    uint8_t kem_context[3 * ZT_X25519_LEN];
    uint8_t prk[NH];
    uint8_t shared_secret[ZT_HPKE_SECRET_LEN];
    uint8_t psk_id_hash[NH];
    uint8_t info_hash[NH];
    uint8_t ksc[KSC_LEN];
    uint8_t secret[NH];
    uint8_t sk[ZT_HPKE_SK_LEN];
    uint8_t pk[ZT_HPKE_PK_LEN];
};

/* The whole context is one sodium_malloc'd block. The setup's scratch rides
 * in the same block (sodium_malloc costs a handful of system calls: mmap,
 * mprotect, mlock) and is wiped as soon as the key schedule is done. */
struct zt_hpke_ctx {
    uint64_t seq;
    const struct aead_desc *aead;
    enum role role;
    uint8_t suite_id[HPKE_SUITE_ID_LEN];
    uint8_t key[ZT_HPKE_MAX_KEY_LEN];
    uint8_t base_nonce[ZT_HPKE_NONCE_LEN];
    uint8_t exporter_secret[NH];
    struct scratch scratch; /* all zero outside setup */
};

static atomic_uint test_flags;
static atomic_flag aes_warned = ATOMIC_FLAG_INIT;

void zt__hpke_test_set_flags(unsigned flags)
{
    atomic_store(&test_flags, flags);
}

static bool aesgcm_available(void)
{
    if (atomic_load(&test_flags) & ZT__HPKE_TEST_NO_AESGCM) return false;
    return crypto_aead_aes256gcm_is_available() != 0;
}

static const struct aead_desc *aead_find(uint16_t id)
{
    for (size_t i = 0; i < sizeof AEADS / sizeof AEADS[0]; i++)
        if (AEADS[i].id == id) return &AEADS[i];
    return NULL;
}

bool zt_hpke_aead_available(uint16_t aead_id)
{
    if (zt_crypto_init() != 0) return false;
    switch (aead_id) {
    case ZT_HPKE_AEAD_CHACHA20POLY1305:
    case ZT_HPKE_AEAD_EXPORT_ONLY: return true;
    case ZT_HPKE_AEAD_AES256GCM: return aesgcm_available();
    default: return false;
    }
}

const char *zt_hpke_aead_name(uint16_t aead_id)
{
    const struct aead_desc *a = aead_find(aead_id);
    return a ? a->name : "unknown";
}

/* Resolve a suite to its AEAD, or ZT_EUNSUPPORTED (logged once for AES-GCM
 * on a CPU without it, since that is a deployment problem to fix). */
static int suite_check(struct zt_hpke_suite suite, const struct aead_desc **out)
{
    if (suite.kem_id != ZT_HPKE_KEM_X25519_SHA256 || suite.kdf_id != ZT_HPKE_KDF_HKDF_SHA256)
        return ZT_EUNSUPPORTED;
    const struct aead_desc *a = aead_find(suite.aead_id);
    if (!a) return ZT_EUNSUPPORTED;
    if (a->id == ZT_HPKE_AEAD_AES128GCM &&
        !(atomic_load(&test_flags) & ZT__HPKE_TEST_SCHEDULE_ONLY))
        return ZT_EUNSUPPORTED; /* not in libsodium */
    if (a->kind == AEAD_AESGCM && !aesgcm_available()) {
        if (!atomic_flag_test_and_set(&aes_warned))
            zt_log(ZT_LOG_WARN, "hpke_aead_unsupported",
                   "aead=AES-256-GCM aead_id=0x0002 reason=\"libsodium has no AES-GCM "
                   "implementation for this CPU (needs x86-64 AES-NI and PCLMUL; ARMv8 "
                   "crypto from libsodium 1.0.19)\" "
                   "hint=\"use ChaCha20-Poly1305 (aead_id 0x0003)\"");
        return ZT_EUNSUPPORTED;
    }
    *out = a;
    return 0;
}

static void kem_suite_id(uint8_t id[static KEM_SUITE_ID_LEN])
{
    id[0] = 'K';
    id[1] = 'E';
    id[2] = 'M';
    zt_put_be16(id + 3, ZT_HPKE_KEM_X25519_SHA256);
}

static void hpke_suite_id(uint8_t id[static HPKE_SUITE_ID_LEN], uint16_t aead_id)
{
    memcpy(id, "HPKE", 4);
    zt_put_be16(id + 4, ZT_HPKE_KEM_X25519_SHA256);
    zt_put_be16(id + 6, ZT_HPKE_KDF_HKDF_SHA256);
    zt_put_be16(id + 8, aead_id);
}

/* ---- HKDF-SHA256 with RFC 9180 labels ------------------------------------ */

struct piece {
    const uint8_t *p;
    size_t n;
};

static void hmac_update_pieces(crypto_auth_hmacsha256_state *st, const struct piece *pc,
                               size_t npc)
{
    for (size_t i = 0; i < npc; i++)
        if (pc[i].n > 0) crypto_auth_hmacsha256_update(st, pc[i].p, pc[i].n);
}

/* LabeledExtract(salt, label, ikm) = HMAC-SHA256(salt,
 *   "HPKE-v1" || suite_id || label || ikm). An empty salt is HKDF's string of
 * Nh zeros, which HMAC's zero padding of the key makes identical. */
static void labeled_extract(uint8_t out[static NH], const uint8_t *suite_id, size_t suite_id_len,
                            const uint8_t *salt, size_t salt_len, const char *label,
                            const uint8_t *ikm, size_t ikm_len)
{
    crypto_auth_hmacsha256_state st;
    const struct piece pc[] = {
        {HPKE_V1, sizeof HPKE_V1},
        {suite_id, suite_id_len},
        {(const uint8_t *)label, strlen(label)},
        {ikm, ikm_len},
    };
    crypto_auth_hmacsha256_init(&st, salt_len ? salt : EMPTY, salt_len);
    hmac_update_pieces(&st, pc, sizeof pc / sizeof pc[0]);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

/* LabeledExpand(prk, label, info, L) = HKDF-Expand(prk,
 *   I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L), L <= 255 * Nh:
 * T(i) = HMAC(prk, T(i-1) || labeled_info || i), out = T(1) || T(2) ... */
static void labeled_expand(uint8_t *out, size_t L, const uint8_t *suite_id, size_t suite_id_len,
                           const uint8_t prk[static NH], const char *label, const uint8_t *info,
                           size_t info_len)
{
    crypto_auth_hmacsha256_state keyed, st;
    uint8_t t[NH], len2[2];
    zt_put_be16(len2, (uint16_t)L);
    const struct piece pc[] = {
        {len2, 2},
        {HPKE_V1, sizeof HPKE_V1},
        {suite_id, suite_id_len},
        {(const uint8_t *)label, strlen(label)},
        {info, info_len},
    };
    crypto_auth_hmacsha256_init(&keyed, prk, NH);
    size_t done = 0;
    for (uint8_t i = 1; done < L; i++) {
        st = keyed;
        if (i > 1) crypto_auth_hmacsha256_update(&st, t, NH);
        hmac_update_pieces(&st, pc, sizeof pc / sizeof pc[0]);
        crypto_auth_hmacsha256_update(&st, &i, 1);
        crypto_auth_hmacsha256_final(&st, t);
        size_t n = L - done < NH ? L - done : NH;
        memcpy(out + done, t, n);
        done += n;
    }
    sodium_memzero(t, sizeof t);
    sodium_memzero(&keyed, sizeof keyed);
    sodium_memzero(&st, sizeof st);
}

/* ---- DHKEM(X25519, HKDF-SHA256) ------------------------------------------ */

/* DH(sk, pk); libsodium refuses low-order points and an all-zero result
 * (RFC 9180 7.1.4's "the DH output is the all-zero value" check); the
 * explicit zero test keeps the guarantee even if that changed. */
static int dh(uint8_t out[static ZT_X25519_LEN], const uint8_t sk[static ZT_X25519_LEN],
              const uint8_t pk[static ZT_X25519_LEN])
{
    if (crypto_scalarmult(out, sk, pk) != 0 || sodium_is_zero(out, ZT_X25519_LEN)) {
        sodium_memzero(out, ZT_X25519_LEN);
        return ZT_ECRYPTO;
    }
    return 0;
}

/* ExtractAndExpand(dh, kem_context). */
static void extract_and_expand(struct scratch *s, size_t dh_len, size_t kem_context_len)
{
    uint8_t sid[KEM_SUITE_ID_LEN];
    kem_suite_id(sid);
    labeled_extract(s->prk, sid, sizeof sid, NULL, 0, "eae_prk", s->dh, dh_len);
    labeled_expand(s->shared_secret, ZT_HPKE_SECRET_LEN, sid, sizeof sid, s->prk,
                   "shared_secret", s->kem_context, kem_context_len);
}

/* Encap / AuthEncap (sk_s non-NULL) with ephemeral key s->sk_e: writes
 * s->shared_secret and enc. */
static int encap(struct scratch *s, const uint8_t pk_r[static ZT_HPKE_PK_LEN],
                 const uint8_t *sk_s, uint8_t enc[static ZT_HPKE_ENC_LEN])
{
    uint8_t *ctxp = s->kem_context;
    if (crypto_scalarmult_base(ctxp, s->sk_e) != 0) return ZT_ECRYPTO; /* enc = pkE */
    memcpy(ctxp + ZT_X25519_LEN, pk_r, ZT_X25519_LEN);
    int rc = dh(s->dh, s->sk_e, pk_r);
    if (rc != 0) return rc;
    size_t dh_len = ZT_X25519_LEN, ctx_len = 2 * ZT_X25519_LEN;
    if (sk_s) {
        rc = dh(s->dh + ZT_X25519_LEN, sk_s, pk_r);
        if (rc != 0) return rc;
        if (crypto_scalarmult_base(ctxp + 2 * ZT_X25519_LEN, sk_s) != 0) return ZT_ECRYPTO;
        dh_len += ZT_X25519_LEN;
        ctx_len += ZT_X25519_LEN;
    }
    extract_and_expand(s, dh_len, ctx_len);
    memcpy(enc, ctxp, ZT_HPKE_ENC_LEN);
    return 0;
}

/* Decap / AuthDecap (pk_s non-NULL): writes s->shared_secret. */
static int decap(struct scratch *s, const uint8_t enc[static ZT_HPKE_ENC_LEN],
                 const uint8_t sk_r[static ZT_HPKE_SK_LEN], const uint8_t *pk_s)
{
    uint8_t *ctxp = s->kem_context;
    int rc = dh(s->dh, sk_r, enc);
    if (rc != 0) return rc;
    memcpy(ctxp, enc, ZT_X25519_LEN);
    if (crypto_scalarmult_base(ctxp + ZT_X25519_LEN, sk_r) != 0) return ZT_ECRYPTO;
    size_t dh_len = ZT_X25519_LEN, ctx_len = 2 * ZT_X25519_LEN;
    if (pk_s) {
        rc = dh(s->dh + ZT_X25519_LEN, sk_r, pk_s);
        if (rc != 0) return rc;
        memcpy(ctxp + 2 * ZT_X25519_LEN, pk_s, ZT_X25519_LEN);
        dh_len += ZT_X25519_LEN;
        ctx_len += ZT_X25519_LEN;
    }
    extract_and_expand(s, dh_len, ctx_len);
    return 0;
}

static struct scratch *scratch_new(void)
{
    return sodium_malloc(sizeof(struct scratch));
}

/* sodium_free wipes the block before unmapping it. */
static void scratch_free(struct scratch *s)
{
    if (s) sodium_free(s);
}

/* ---- Keys ---------------------------------------------------------------- */

/* The public key of the secret key in s, both copied out; frees s. */
static int finish_keypair(struct scratch *s, uint8_t sk[static ZT_HPKE_SK_LEN], uint8_t pk[static ZT_HPKE_PK_LEN])
{
    int rc = 0;
    if (crypto_scalarmult_base(s->pk, s->sk) != 0) {
        rc = ZT_ECRYPTO;
        goto out;
    }
    memcpy(sk, s->sk, ZT_HPKE_SK_LEN);
    memcpy(pk, s->pk, ZT_HPKE_PK_LEN);
out:
    scratch_free(s);
    return rc;
}

/* Drawn straight into the caller's sk: it has no secret intermediate, so
 * a scratch block (a sodium_malloc: mmap, mprotect, mlock, and their undoing)
 * would only hold a copy of what sk holds anyway. */
int zt_hpke_keypair(uint8_t sk[static ZT_HPKE_SK_LEN], uint8_t pk[static ZT_HPKE_PK_LEN])
{
    int rc = zt_crypto_init();
    if (rc != 0) return rc;
    randombytes_buf(sk, ZT_HPKE_SK_LEN);
    if (crypto_scalarmult_base(pk, sk) != 0) {
        sodium_memzero(sk, ZT_HPKE_SK_LEN);
        return ZT_ECRYPTO;
    }
    return 0;
}

int zt_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, uint8_t sk[static ZT_HPKE_SK_LEN],
                           uint8_t pk[static ZT_HPKE_PK_LEN])
{
    int rc = zt_crypto_init();
    if (rc != 0) return rc;
    if (!ikm || ikm_len < ZT_HPKE_SK_LEN) return ZT_EINVAL;
    if (ikm_len > ZT_HPKE_MAX_INPUT_LEN) return ZT_ETOOBIG;
    struct scratch *s = scratch_new();
    if (!s) return ZT_ENOMEM;
    uint8_t sid[KEM_SUITE_ID_LEN];
    kem_suite_id(sid);
    /* DeriveKeyPair for X25519 (RFC 9180 7.1.3): no rejection sampling, the
     * scalar is clamped when used. */
    labeled_extract(s->prk, sid, sizeof sid, NULL, 0, "dkp_prk", ikm, ikm_len);
    labeled_expand(s->sk, ZT_HPKE_SK_LEN, sid, sizeof sid, s->prk, "sk", NULL, 0);
    return finish_keypair(s, sk, pk);
}

int zt_hpke_public_key(const uint8_t sk[static ZT_HPKE_SK_LEN], uint8_t pk[static ZT_HPKE_PK_LEN])
{
    int rc = zt_crypto_init();
    if (rc != 0) return rc;
    uint8_t tmp[ZT_HPKE_PK_LEN];
    if (crypto_scalarmult_base(tmp, sk) != 0) return ZT_ECRYPTO;
    memcpy(pk, tmp, sizeof tmp);
    return 0;
}

/* ---- Key schedule -------------------------------------------------------- */

static bool has(const uint8_t *p, size_t n)
{
    return n > 0 || p != NULL;
}

/* VerifyPSKInputs plus the auth-mode key requirement for this side. */
static int check_params(const struct zt_hpke_params *p, enum role role)
{
    if (p->mode > ZT_HPKE_MODE_AUTH_PSK) return ZT_EINVAL;
    if ((p->info_len && !p->info) || (p->psk_len && !p->psk) || (p->psk_id_len && !p->psk_id))
        return ZT_EINVAL;
    if (p->info_len > ZT_HPKE_MAX_INPUT_LEN || p->psk_len > ZT_HPKE_MAX_INPUT_LEN ||
        p->psk_id_len > ZT_HPKE_MAX_INPUT_LEN)
        return ZT_ETOOBIG;
    bool psk_mode = p->mode == ZT_HPKE_MODE_PSK || p->mode == ZT_HPKE_MODE_AUTH_PSK;
    bool got_psk = has(p->psk, p->psk_len), got_id = has(p->psk_id, p->psk_id_len);
    if (got_psk != got_id || got_psk != psk_mode) return ZT_EINVAL;
    if (psk_mode && (p->psk_len < ZT_HPKE_MIN_PSK_LEN || p->psk_id_len == 0)) return ZT_EINVAL;
    bool auth_mode = p->mode == ZT_HPKE_MODE_AUTH || p->mode == ZT_HPKE_MODE_AUTH_PSK;
    const uint8_t *key = role == ROLE_SENDER ? p->sender_sk : p->sender_pk;
    if ((key != NULL) != auth_mode) return ZT_EINVAL;
    return 0;
}

/* KeySchedule(mode, shared_secret, info, psk, psk_id) into ctx. */
static void key_schedule(struct zt_hpke_ctx *ctx, struct scratch *s,
                         const struct zt_hpke_params *p)
{
    const uint8_t *sid = ctx->suite_id;
    labeled_extract(s->psk_id_hash, sid, HPKE_SUITE_ID_LEN, NULL, 0, "psk_id_hash", p->psk_id,
                    p->psk_id_len);
    labeled_extract(s->info_hash, sid, HPKE_SUITE_ID_LEN, NULL, 0, "info_hash", p->info,
                    p->info_len);
    s->ksc[0] = (uint8_t)p->mode;
    memcpy(s->ksc + 1, s->psk_id_hash, NH);
    memcpy(s->ksc + 1 + NH, s->info_hash, NH);
    labeled_extract(s->secret, sid, HPKE_SUITE_ID_LEN, s->shared_secret, ZT_HPKE_SECRET_LEN,
                    "secret", p->psk, p->psk_len);
    if (ctx->aead->nk > 0) {
        labeled_expand(ctx->key, ctx->aead->nk, sid, HPKE_SUITE_ID_LEN, s->secret, "key", s->ksc,
                       KSC_LEN);
        labeled_expand(ctx->base_nonce, ctx->aead->nn, sid, HPKE_SUITE_ID_LEN, s->secret,
                       "base_nonce", s->ksc, KSC_LEN);
    }
    labeled_expand(ctx->exporter_secret, NH, sid, HPKE_SUITE_ID_LEN, s->secret, "exp", s->ksc,
                   KSC_LEN);
    ctx->seq = 0;
}

/* Shared body of the setup functions. Sender: pk_r, sk_e (NULL: random),
 * enc_out. Receiver: enc_in, sk_r. */
static int setup(struct zt_hpke_suite suite, const struct zt_hpke_params *params, enum role role,
                 const uint8_t *pk_r, const uint8_t *sk_e, uint8_t *enc_out,
                 const uint8_t *enc_in, const uint8_t *sk_r, struct zt_hpke_ctx **out)
{
    static const struct zt_hpke_params base = {.mode = ZT_HPKE_MODE_BASE};
    struct scratch *s = NULL;
    struct zt_hpke_ctx *ctx = NULL;
    const struct aead_desc *aead = NULL;
    uint8_t enc[ZT_HPKE_ENC_LEN];
    int rc = zt_crypto_init();
    if (rc != 0) goto out;
    if (!out) {
        rc = ZT_EINVAL;
        goto out;
    }
    rc = suite_check(suite, &aead);
    if (rc != 0) goto out;
    if (!params) params = &base;
    rc = check_params(params, role);
    if (rc != 0) goto out;

    ctx = zt_secure_alloc(sizeof *ctx);
    if (!ctx) {
        rc = ZT_ENOMEM;
        goto out;
    }
    memset(ctx, 0, sizeof *ctx);
    s = &ctx->scratch;
    ctx->aead = aead;
    ctx->role = role;
    hpke_suite_id(ctx->suite_id, aead->id);

    if (role == ROLE_SENDER) {
        if (sk_e)
            memcpy(s->sk_e, sk_e, ZT_HPKE_SK_LEN);
        else
            randombytes_buf(s->sk_e, ZT_HPKE_SK_LEN);
        rc = encap(s, pk_r, params->sender_sk, enc);
    } else {
        rc = decap(s, enc_in, sk_r, params->sender_pk);
    }
    if (rc != 0) goto out;
    key_schedule(ctx, s, params);

    sodium_memzero(s, sizeof *s);
    if (enc_out) memcpy(enc_out, enc, ZT_HPKE_ENC_LEN);
    *out = ctx;
    ctx = NULL;
out:
    zt_secure_free(ctx, sizeof *ctx); /* wipes the scratch with it */
    return rc;
}

int zt_hpke_setup_sender(struct zt_hpke_suite suite, const struct zt_hpke_params *params,
                         const uint8_t pk_r[static ZT_HPKE_PK_LEN],
                         uint8_t enc[static ZT_HPKE_ENC_LEN], struct zt_hpke_ctx **out)
{
    return setup(suite, params, ROLE_SENDER, pk_r, NULL, enc, NULL, NULL, out);
}

int zt_hpke_setup_sender_fixed_ephemeral(struct zt_hpke_suite suite,
                                         const struct zt_hpke_params *params,
                                         const uint8_t pk_r[static ZT_HPKE_PK_LEN],
                                         const uint8_t sk_e[static ZT_HPKE_SK_LEN],
                                         uint8_t enc[static ZT_HPKE_ENC_LEN],
                                         struct zt_hpke_ctx **out)
{
    return setup(suite, params, ROLE_SENDER, pk_r, sk_e, enc, NULL, NULL, out);
}

int zt_hpke_setup_receiver(struct zt_hpke_suite suite, const struct zt_hpke_params *params,
                           const uint8_t enc[static ZT_HPKE_ENC_LEN],
                           const uint8_t sk_r[static ZT_HPKE_SK_LEN], struct zt_hpke_ctx **out)
{
    return setup(suite, params, ROLE_RECEIVER, NULL, NULL, NULL, enc, sk_r, out);
}

void zt_hpke_ctx_free(struct zt_hpke_ctx *ctx)
{
    zt_secure_free(ctx, sizeof *ctx); /* wiped; kept for the next context (zt_crypto.h) */
}

uint64_t zt_hpke_ctx_seq(const struct zt_hpke_ctx *ctx)
{
    return ctx ? ctx->seq : 0;
}

/* ---- Encryption ---------------------------------------------------------- */

/* ComputeNonce(seq) = base_nonce XOR I2OSP(seq, Nn). */
static void compute_nonce(const struct zt_hpke_ctx *ctx, uint8_t nonce[static ZT_HPKE_NONCE_LEN])
{
    memcpy(nonce, ctx->base_nonce, ZT_HPKE_NONCE_LEN);
    for (size_t i = 0; i < 8; i++)
        nonce[ZT_HPKE_NONCE_LEN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

static unsigned long long aead_max(const struct aead_desc *a)
{
    return a->kind == AEAD_AESGCM ? crypto_aead_aes256gcm_messagebytes_max()
                                  : crypto_aead_chacha20poly1305_ietf_messagebytes_max();
}

/* Checks shared by seal and open; msg_len is the plaintext length. */
static int check_crypt(const struct zt_hpke_ctx *ctx, enum role role, const uint8_t *aad,
                       size_t aad_len, size_t msg_len, size_t out_size)
{
    if (!ctx || ctx->role != role || (aad_len && !aad)) return ZT_EINVAL;
    if (!ctx->aead->seals) return ZT_EUNSUPPORTED;
    if (msg_len > SIZE_MAX - ZT_HPKE_TAG_LEN || msg_len > aead_max(ctx->aead))
        return ZT_ETOOBIG;
    if (out_size < msg_len + (role == ROLE_SENDER ? ZT_HPKE_TAG_LEN : 0)) return ZT_EINVAL;
    /* RFC 9180 5.2: the sequence number must not wrap; seq is 64 bits here
     * (stricter than Nn), so 2^64 - 1 messages per context. */
    if (ctx->seq == UINT64_MAX) return ZT_ERANGE;
    return 0;
}

/* One AEAD operation at the context's sequence number (which then moves
 * on): seal pt (pt_len) into ct, or open ct (ct_len) into pt. */
static int aead_crypt(struct zt_hpke_ctx *ctx, bool seal, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                      size_t pt_len, const uint8_t *ct, size_t ct_len, uint8_t *out)
{
    uint8_t nonce[ZT_HPKE_NONCE_LEN];
    compute_nonce(ctx, nonce);
    const uint8_t *a = aad_len ? aad : EMPTY;
    bool gcm = ctx->aead->kind == AEAD_AESGCM;
    int r;
    if (seal)
        r = gcm ? crypto_aead_aes256gcm_encrypt(out, NULL, pt, pt_len, a, aad_len, NULL, nonce, ctx->key)
                : crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, pt_len, a, aad_len, NULL, nonce,
                                                            ctx->key);
    else
        r = gcm ? crypto_aead_aes256gcm_decrypt(out, NULL, NULL, ct, ct_len, a, aad_len, nonce, ctx->key)
                : crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, ct_len, a, aad_len, nonce,
                                                            ctx->key);
    sodium_memzero(nonce, sizeof nonce);
    if (r != 0) return ZT_ECRYPTO;
    ctx->seq++;
    return 0;
}

int zt_hpke_ctx_seal(struct zt_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
                     const uint8_t *pt, size_t pt_len, uint8_t *ct, size_t ct_size)
{
    int rc = check_crypt(ctx, ROLE_SENDER, aad, aad_len, pt_len, ct_size);
    if (rc != 0) return rc;
    if ((pt_len && !pt) || !ct) return ZT_EINVAL;
    return aead_crypt(ctx, true, aad, aad_len, pt_len ? pt : EMPTY, pt_len, NULL, 0, ct);
}

int zt_hpke_ctx_open(struct zt_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
                     const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t pt_size)
{
    if (!ct || ct_len < ZT_HPKE_TAG_LEN) return ZT_EINVAL;
    size_t pt_len = ct_len - ZT_HPKE_TAG_LEN;
    int rc = check_crypt(ctx, ROLE_RECEIVER, aad, aad_len, pt_len, pt_size);
    if (rc != 0) return rc;
    if (!pt) return ZT_EINVAL;
    rc = aead_crypt(ctx, false, aad, aad_len, NULL, 0, ct, ct_len, pt);
    if (rc != 0) sodium_memzero(pt, pt_len);
    return rc;
}

int zt_hpke_ctx_export(const struct zt_hpke_ctx *ctx, const uint8_t *exporter_context,
                       size_t context_len, uint8_t *out, size_t out_len)
{
    if (!ctx || !out || (context_len && !exporter_context)) return ZT_EINVAL;
    if (out_len == 0 || out_len > ZT_HPKE_MAX_EXPORT_LEN) return ZT_ERANGE;
    if (context_len > ZT_HPKE_MAX_INPUT_LEN) return ZT_ETOOBIG;
    labeled_expand(out, out_len, ctx->suite_id, HPKE_SUITE_ID_LEN, ctx->exporter_secret, "sec",
                   exporter_context, context_len);
    return 0;
}

/* ---- Single shot --------------------------------------------------------- */

int zt_hpke_seal(struct zt_hpke_suite suite, const struct zt_hpke_params *params,
                 const uint8_t pk_r[static ZT_HPKE_PK_LEN], const uint8_t *aad, size_t aad_len,
                 const uint8_t *pt, size_t pt_len, uint8_t enc[static ZT_HPKE_ENC_LEN],
                 uint8_t *ct, size_t ct_size)
{
    struct zt_hpke_ctx *ctx = NULL;
    uint8_t e[ZT_HPKE_ENC_LEN];
    /* Refuse a short buffer before paying for the KEM. */
    if (pt_len > SIZE_MAX - ZT_HPKE_TAG_LEN) return ZT_ETOOBIG;
    if (!ct || ct_size < pt_len + ZT_HPKE_TAG_LEN) return ZT_EINVAL;
    int rc = zt_hpke_setup_sender(suite, params, pk_r, e, &ctx);
    if (rc != 0) goto out;
    rc = zt_hpke_ctx_seal(ctx, aad, aad_len, pt, pt_len, ct, ct_size);
    if (rc != 0) goto out;
    memcpy(enc, e, ZT_HPKE_ENC_LEN);
out:
    zt_hpke_ctx_free(ctx);
    return rc;
}

int zt_hpke_open(struct zt_hpke_suite suite, const struct zt_hpke_params *params,
                 const uint8_t enc[static ZT_HPKE_ENC_LEN],
                 const uint8_t sk_r[static ZT_HPKE_SK_LEN], const uint8_t *aad, size_t aad_len,
                 const uint8_t *ct, size_t ct_len, uint8_t *pt,
                 size_t pt_size)
{
    struct zt_hpke_ctx *ctx = NULL;
    if (!ct || ct_len < ZT_HPKE_TAG_LEN || !pt || pt_size < ct_len - ZT_HPKE_TAG_LEN)
        return ZT_EINVAL;
    int rc = zt_hpke_setup_receiver(suite, params, enc, sk_r, &ctx);
    if (rc == 0) rc = zt_hpke_ctx_open(ctx, aad, aad_len, ct, ct_len, pt, pt_size);
    if (rc != 0) sodium_memzero(pt, ct_len - ZT_HPKE_TAG_LEN);
    zt_hpke_ctx_free(ctx);
    return rc;
}

/* ---- Test hooks ---------------------------------------------------------- */

int zt__hpke_encap_fixed(const uint8_t pk_r[static ZT_HPKE_PK_LEN],
                         const uint8_t sk_e[static ZT_HPKE_SK_LEN], const uint8_t *sk_s,
                         uint8_t shared_secret[static ZT_HPKE_SECRET_LEN],
                         uint8_t enc[static ZT_HPKE_ENC_LEN])
{
    int rc = zt_crypto_init();
    if (rc != 0) return rc;
    struct scratch *s = scratch_new();
    if (!s) return ZT_ENOMEM;
    uint8_t e[ZT_HPKE_ENC_LEN];
    memcpy(s->sk_e, sk_e, ZT_HPKE_SK_LEN);
    rc = encap(s, pk_r, sk_s, e);
    if (rc == 0) {
        memcpy(shared_secret, s->shared_secret, ZT_HPKE_SECRET_LEN);
        memcpy(enc, e, ZT_HPKE_ENC_LEN);
    }
    scratch_free(s);
    return rc;
}

int zt__hpke_decap(const uint8_t enc[static ZT_HPKE_ENC_LEN],
                   const uint8_t sk_r[static ZT_HPKE_SK_LEN], const uint8_t *pk_s,
                   uint8_t shared_secret[static ZT_HPKE_SECRET_LEN])
{
    int rc = zt_crypto_init();
    if (rc != 0) return rc;
    struct scratch *s = scratch_new();
    if (!s) return ZT_ENOMEM;
    rc = decap(s, enc, sk_r, pk_s);
    if (rc == 0) memcpy(shared_secret, s->shared_secret, ZT_HPKE_SECRET_LEN);
    scratch_free(s);
    return rc;
}

void zt__hpke_ctx_secrets(const struct zt_hpke_ctx *ctx, uint8_t key[static ZT_HPKE_MAX_KEY_LEN],
                          size_t *key_len, uint8_t base_nonce[static ZT_HPKE_NONCE_LEN],
                          uint8_t exporter_secret[static ZT_HPKE_SECRET_LEN])
{
    memcpy(key, ctx->key, ZT_HPKE_MAX_KEY_LEN);
    *key_len = ctx->aead->nk;
    memcpy(base_nonce, ctx->base_nonce, ZT_HPKE_NONCE_LEN);
    memcpy(exporter_secret, ctx->exporter_secret, ZT_HPKE_SECRET_LEN);
}

void zt__hpke_ctx_set_seq(struct zt_hpke_ctx *ctx, uint64_t seq)
{
    ctx->seq = seq;
}
