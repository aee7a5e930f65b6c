/* zt_auth.h: who calls the API: roles, principals and API tokens (JWT).
 * Implemented in src/crypto/jwt.c; the HTTP layer (src/server) admits
 * callers with it.
 *
 * Tokens are JWTs issued by zentalk-api, signed HS256 with
 * encryption.jwt_secret, RS256 or EdDSA (Ed25519) with the private half of
 * encryption.jwt_public_key_file, as encryption.jwt_algorithms allows; they carry "sub" (the identity), "role"
 * (user|provider|admin), "iss" and "aud" (integration.jwt_issuer /
 * jwt_audience) and "exp" (required), optionally "nbf". Any other algorithm,
 * "none" included, is refused. */
#ifndef ZT_AUTH_H
#define ZT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

#define ZT_AUTH_MAX_HEADER 8192  /* longest Authorization header value */
#define ZT_AUTH_ID_MAX 128       /* longest "sub" + NUL */
#define ZT_AUTH_LEEWAY_S 30      /* clock skew allowed on exp and nbf */

/* Ordered: a route's minimum role is met by any role at or above it. */
enum zt_auth_role {
    ZT_AUTH_NONE = 0,   /* anonymous */
    ZT_AUTH_USER = 1,
    ZT_AUTH_PROVIDER = 2,
    ZT_AUTH_ADMIN = 3,
};

struct zt_auth_principal {
    char identity[ZT_AUTH_ID_MAX];
    enum zt_auth_role role;
};

const char *zt_auth_role_name(enum zt_auth_role r);

/* Split an Authorization header value "Bearer <jwt>" (scheme case-
 * insensitive, one space, one token of base64url segments joined by two
 * dots, nothing else, at most ZT_AUTH_MAX_HEADER bytes). On success *tok
 * points into value and *len is its length. ZT_EPARSE otherwise. */
ZT_NODISCARD int zt_auth_parse_header(const char *value, const char **tok, size_t *len);

/* Verify token (len bytes, not NUL-terminated) at time now_s (Unix seconds)
 * against the HS256 secret, issuer and audience (an empty issuer/audience
 * is not checked). Fills *out on success. ZT_EINVAL for an empty secret,
 * ZT_ETOOBIG for an oversized token, ZT_ECRYPTO for anything wrong with the
 * token (the reason, never the token, goes to *why when why is non-NULL). */
ZT_NODISCARD int zt_auth_verify(const char *secret, const char *issuer, const char *audience,
                                 const char *token, size_t len, int64_t now_s,
                                 struct zt_auth_principal *out, const char **why);

/* ---- keys for several algorithms ---- */

#define ZT_AUTH_ALG_HS256 (1u << 0)
#define ZT_AUTH_ALG_RS256 (1u << 1)
#define ZT_AUTH_ALG_EDDSA (1u << 2)
#define ZT_AUTH_PEM_MAX 16384

/* What tokens may be checked with: algs (ZT_AUTH_ALG_*) is the allowed
 * list (encryption.jwt_algorithms); an algorithm is used only when its key
 * is there too (hs_secret for HS256, rsa_pem for RS256, ed25519_pk for
 * EdDSA). hs_secret is borrowed; the rest is owned (deinit frees). */
struct zt_auth_keys {
    const char *hs_secret;
    char *rsa_pem;
    size_t rsa_pem_len;
    uint8_t ed25519_pk[32];
    bool has_ed25519;
    unsigned algs;
};
void zt_auth_keys_init(struct zt_auth_keys *k);
void zt_auth_keys_deinit(struct zt_auth_keys *k);
/* "HS256", "RS256" or "EdDSA" to its bit; ZT_EINVAL otherwise. */
ZT_NODISCARD int zt_auth_alg_parse(const char *name, unsigned *bit);
/* Take a PEM public key (SubjectPublicKeyInfo, "BEGIN PUBLIC KEY"): an
 * Ed25519 key (the fixed 12-byte DER prefix + 32 bytes, RFC 8410) or an RSA
 * key (kept as PEM for libjwt). ZT_EPARSE (not such a PEM), ZT_EUNSUPPORTED
 * (another key type), ZT_ETOOBIG, ZT_ENOMEM; *why says which. */
ZT_NODISCARD int zt_auth_keys_set_pem(struct zt_auth_keys *k, const char *pem, size_t len, const char **why);
/* Like zt_auth_verify() with any of keys' algorithms: the token's "alg"
 * must be allowed and keyed (else ZT_ECRYPTO "algorithm not accepted");
 * ZT_EINVAL when no algorithm is usable at all. */
ZT_NODISCARD int zt_auth_verify_keys(const struct zt_auth_keys *keys, const char *issuer,
                                      const char *audience, const char *token, size_t len, int64_t now_s,
                                      struct zt_auth_principal *out, const char **why);

#endif
