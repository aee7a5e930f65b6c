/* jwt.c: bearer-token parsing and API token (JWT) verification with libjwt
 * and libsodium. See zt_auth.h.
 *
 * The JOSE header is read here before libjwt sees the token so that only
 * HS256 (with the secret) and RS256 (with the RSA public key) ever reach
 * jwt_decode(): libjwt accepts "alg":"none" (no signature) and would use
 * whatever key it is given as an HMAC secret for a token that says HS*.
 * EdDSA (Ed25519, RFC 8037), which libjwt 1.x lacks, is verified here with
 * libsodium. All three share one claims check.
 * After the signature checks out, the claims are read from the same bytes
 * with jansson, strictly (types, not just presence). */
#include "zentalk/zt_auth.h"

#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"

const char *zt_auth_role_name(enum zt_auth_role r)
{
    switch (r) {
    case ZT_AUTH_NONE: return "none";
    case ZT_AUTH_USER: return "user";
    case ZT_AUTH_PROVIDER: return "provider";
    case ZT_AUTH_ADMIN: return "admin";
    }
    return "none";
}

static bool is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int zt_auth_parse_header(const char *value, const char **tok, size_t *len)
{
    if (!value) return ZT_EPARSE;
    size_t n = strnlen(value, ZT_AUTH_MAX_HEADER + 1);
    if (n > ZT_AUTH_MAX_HEADER) return ZT_EPARSE;
    static const char scheme[] = "bearer ";
    if (n <= sizeof scheme - 1) return ZT_EPARSE;
    for (size_t i = 0; i < sizeof scheme - 1; i++) {
        char c = value[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != scheme[i]) return ZT_EPARSE;
    }
    const char *t = value + sizeof scheme - 1;
    size_t tl = n - (sizeof scheme - 1);
    /* header.payload.signature: three non-empty base64url segments */
    size_t dots = 0, seg = 0;
    for (size_t i = 0; i < tl; i++) {
        if (t[i] == '.') {
            if (seg == 0) return ZT_EPARSE;
            dots++;
            seg = 0;
        } else if (is_b64url(t[i])) {
            seg++;
        } else {
            return ZT_EPARSE;
        }
    }
    if (dots != 2 || seg == 0) return ZT_EPARSE;
    *tok = t;
    *len = tl;
    return 0;
}

/* Decode one base64url segment (no padding) as a JSON object. */
static json_t *segment_json(const char *p, size_t n)
{
    size_t cap = n / 4 * 3 + 3;
    unsigned char *bin = zt_malloc(cap);
    if (!bin) return NULL;
    size_t bl = 0;
    json_t *j = NULL;
    if (sodium_base642bin(bin, cap, p, n, NULL, &bl, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
        0) {
        j = json_loadb((const char *)bin, bl, JSON_REJECT_DUPLICATES, NULL);
        if (j && !json_is_object(j)) {
            json_decref(j);
            j = NULL;
        }
    }
    zt_free(bin);
    return j;
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= ZT_AUTH_ID_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7E) return false;
    return true;
}

static bool aud_ok(json_t *aud, const char *want)
{
    if (json_is_string(aud)) return zt_str_eq(json_string_value(aud), want);
    if (!json_is_array(aud)) return false;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) && zt_str_eq(json_string_value(v), want)) return true;
    return false;
}

static const char *check_claims(json_t *c, const char *issuer, const char *audience, int64_t now_s,
                                struct zt_auth_principal *out)
{
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    if (!json_is_integer(exp)) return "exp missing or not an integer";
    /* Compare with the leeway on now's side: exp and nbf are the token's,
     * anywhere in int64 (exp + leeway overflowed for exp = INT64_MAX);
     * now_s is the clock's, far from either end. */
    if (now_s - ZT_AUTH_LEEWAY_S > json_integer_value(exp)) return "expired";
    if (nbf) {
        if (!json_is_integer(nbf)) return "nbf not an integer";
        if (now_s + ZT_AUTH_LEEWAY_S < json_integer_value(nbf)) return "not yet valid";
    }
    if (issuer && issuer[0]) {
        json_t *iss = json_object_get(c, "iss");
        if (!json_is_string(iss) || !zt_str_eq(json_string_value(iss), issuer)) return "wrong issuer";
    }
    if (audience && audience[0] && !aud_ok(json_object_get(c, "aud"), audience))
        return "wrong audience";
    json_t *sub = json_object_get(c, "sub"), *role = json_object_get(c, "role");
    if (!json_is_string(sub) || !id_ok(json_string_value(sub))) return "sub missing or invalid";
    if (!json_is_string(role)) return "role missing";
    const char *r = json_string_value(role);
    enum zt_auth_role rv;
    if (zt_str_eq(r, "user"))
        rv = ZT_AUTH_USER;
    else if (zt_str_eq(r, "provider"))
        rv = ZT_AUTH_PROVIDER;
    else if (zt_str_eq(r, "admin"))
        rv = ZT_AUTH_ADMIN;
    else
        return "unknown role";
    zt_strlcpy(out->identity, json_string_value(sub), sizeof out->identity);
    out->role = rv;
    return NULL;
}

/* ---- keys ---------------------------------------------------------------- */

/* DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410): SEQUENCE { SEQUENCE
 * { OID 1.3.101.112 } BIT STRING (0 unused bits) } then the 32 key bytes. */
static const uint8_t ED25519_SPKI_PREFIX[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                                0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
/* OID 1.2.840.113549.1.1.1 (rsaEncryption), as it appears in an RSA SPKI. */
static const uint8_t RSA_OID[11] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};

void zt_auth_keys_init(struct zt_auth_keys *k)
{
    memset(k, 0, sizeof *k);
}

void zt_auth_keys_deinit(struct zt_auth_keys *k)
{
    zt_free(k->rsa_pem);
    memset(k, 0, sizeof *k);
}

int zt_auth_alg_parse(const char *name, unsigned *bit)
{
    if (zt_str_eq(name, "HS256")) *bit = ZT_AUTH_ALG_HS256;
    else if (zt_str_eq(name, "RS256")) *bit = ZT_AUTH_ALG_RS256;
    else if (zt_str_eq(name, "EdDSA")) *bit = ZT_AUTH_ALG_EDDSA;
    else return ZT_EINVAL;
    return 0;
}

int zt_auth_keys_set_pem(struct zt_auth_keys *k, const char *pem, size_t len, const char **why)
{
    static const char begin[] = "-----BEGIN PUBLIC KEY-----", end[] = "-----END PUBLIC KEY-----";
    const char *reason = "not a PEM public key (-----BEGIN PUBLIC KEY-----, SubjectPublicKeyInfo)";
    uint8_t *der = NULL;
    int rc = ZT_EPARSE;
    if (len > ZT_AUTH_PEM_MAX) {
        reason = "PEM file too large";
        rc = ZT_ETOOBIG;
        goto out;
    }
    const char *b = zt_str_memmem(pem, len, begin, sizeof begin - 1);
    if (!b) {
        if (zt_str_memmem(pem, len, "BEGIN RSA PUBLIC KEY", 20))
            reason = "PKCS#1 RSA key; convert it: openssl rsa -RSAPublicKey_in -pubout";
        goto out;
    }
    const char *body = b + sizeof begin - 1;
    const char *e = zt_str_memmem(body, len - (size_t)(body - pem), end, sizeof end - 1);
    if (!e) goto out;
    size_t bl = (size_t)(e - body);
    der = zt_malloc(bl);
    if (!der) {
        rc = ZT_ENOMEM;
        reason = "out of memory";
        goto out;
    }
    size_t dl = 0;
    const char *stop = NULL;
    if (sodium_base642bin(der, bl, body, bl, " \t\r\n", &dl, &stop, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        stop != e || dl < 16) {
        reason = "bad base64 in the PEM key";
        goto out;
    }
    if (dl == sizeof ED25519_SPKI_PREFIX + 32 && memcmp(der, ED25519_SPKI_PREFIX, sizeof ED25519_SPKI_PREFIX) == 0) {
        memcpy(k->ed25519_pk, der + sizeof ED25519_SPKI_PREFIX, 32);
        k->has_ed25519 = true;
        rc = 0;
        goto out;
    }
    /* an RSA SPKI names rsaEncryption right after its outer headers */
    if (dl > 64 && der[0] == 0x30 && zt_str_memmem((const char *)der, dl < 32 ? dl : 32, (const char *)RSA_OID, sizeof RSA_OID)) {
        char *copy = zt_malloc(len + 1);
        if (!copy) {
            rc = ZT_ENOMEM;
            reason = "out of memory";
            goto out;
        }
        memcpy(copy, pem, len);
        copy[len] = '\0';
        zt_free(k->rsa_pem);
        k->rsa_pem = copy;
        k->rsa_pem_len = len;
        rc = 0;
        goto out;
    }
    reason = "the PEM key is neither Ed25519 nor RSA";
    rc = ZT_EUNSUPPORTED;
out:
    zt_free(der);
    if (rc && why) *why = reason;
    return rc;
}

/* ---- verification --------------------------------------------------------- */

/* RFC 8037: EdDSA with an Ed25519 key over base64url(header) "." base64url(payload). */
static bool eddsa_ok(const uint8_t pk[32], const char *token, size_t signed_len, const char *sig_b64, size_t sig_len)
{
    uint8_t sig[crypto_sign_BYTES + 1];
    size_t bl = 0;
    const char *end = NULL;
    if (sig_len != 86) return false; /* 64 bytes, unpadded base64url */
    if (sodium_base642bin(sig, sizeof sig, sig_b64, sig_len, NULL, &bl, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        bl != crypto_sign_BYTES || end != sig_b64 + sig_len)
        return false;
    return crypto_sign_verify_detached(sig, (const unsigned char *)token, signed_len, pk) == 0;
}

/* Only alg, typ and kid in an EdDSA header (no jwk/jku/x5u to fetch keys from). */
static bool eddsa_header_ok(json_t *hdr)
{
    const char *k;
    json_t *v;
    json_object_foreach(hdr, k, v) {
        if (zt_str_eq(k, "alg")) continue;
        if ((zt_str_eq(k, "typ") || zt_str_eq(k, "kid")) && json_is_string(v)) continue;
        return false;
    }
    json_t *typ = json_object_get(hdr, "typ");
    return !typ || zt_str_eq(json_string_value(typ), "JWT");
}

int zt_auth_verify_keys(const struct zt_auth_keys *keys, const char *issuer, const char *audience,
                         const char *token, size_t len, int64_t now_s, struct zt_auth_principal *out,
                         const char **why)
{
    const char *reason = "malformed token";
    json_t *hdr = NULL, *claims = NULL;
    jwt_t *jwt = NULL;
    char *copy = NULL;
    int rc = ZT_ECRYPTO;
    bool hs = (keys->algs & ZT_AUTH_ALG_HS256) && keys->hs_secret && keys->hs_secret[0];
    bool rs = (keys->algs & ZT_AUTH_ALG_RS256) && keys->rsa_pem;
    bool ed = (keys->algs & ZT_AUTH_ALG_EDDSA) && keys->has_ed25519;
    if (!hs && !rs && !ed) return ZT_EINVAL;
    if (len > ZT_AUTH_MAX_HEADER) {
        if (why) *why = "token too long";
        return ZT_ETOOBIG;
    }
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) || memchr(token, '\0', len))
        goto out;
    hdr = segment_json(token, (size_t)(d1 - token));
    if (!hdr) goto out;
    json_t *algj = json_object_get(hdr, "alg");
    const char *alg = json_is_string(algj) ? json_string_value(algj) : "";
    unsigned bit = 0;
    if (zt_auth_alg_parse(alg, &bit) != 0 || (bit == ZT_AUTH_ALG_HS256 && !hs) ||
        (bit == ZT_AUTH_ALG_RS256 && !rs) || (bit == ZT_AUTH_ALG_EDDSA && !ed)) {
        reason = keys->algs == ZT_AUTH_ALG_HS256 ? "algorithm not accepted (HS256 only)"
                                                  : "algorithm not accepted (see encryption.jwt_algorithms)";
        goto out;
    }
    if (json_object_get(hdr, "crit")) {
        reason = "unsupported critical header";
        goto out;
    }
    if (bit == ZT_AUTH_ALG_EDDSA) {
        if (!eddsa_header_ok(hdr)) {
            reason = "unexpected EdDSA header parameter";
            goto out;
        }
        if (!eddsa_ok(keys->ed25519_pk, token, (size_t)(d2 - token), d2 + 1, len - (size_t)(d2 + 1 - token))) {
            reason = "bad signature";
            goto out;
        }
    } else {
        copy = zt_strndup(token, len); /* libjwt reads a C string */
        if (!copy) {
            rc = ZT_ENOMEM;
            reason = "out of memory";
            goto out;
        }
        /* each algorithm gets only its own key: an RSA public key never
         * reaches libjwt as an HMAC secret (alg confusion) */
        const char *key = bit == ZT_AUTH_ALG_HS256 ? keys->hs_secret : keys->rsa_pem;
        size_t kl = bit == ZT_AUTH_ALG_HS256 ? strlen(keys->hs_secret) : keys->rsa_pem_len;
        jwt_alg_t want = bit == ZT_AUTH_ALG_HS256 ? JWT_ALG_HS256 : JWT_ALG_RS256;
        if (kl > INT32_MAX) goto out;
        if (jwt_decode(&jwt, copy, (const unsigned char *)key, (int)kl) != 0 || !jwt || jwt_get_alg(jwt) != want) {
            reason = "bad signature";
            goto out;
        }
    }
    claims = segment_json(d1 + 1, (size_t)(d2 - d1 - 1));
    if (!claims) goto out;
    struct zt_auth_principal p;
    memset(&p, 0, sizeof p);
    reason = check_claims(claims, issuer, audience, now_s, &p);
    if (reason) goto out;
    *out = p;
    rc = 0;
out:
    if (rc && why) *why = reason;
    jwt_free(jwt);
    if (copy) {
        sodium_memzero(copy, len + 1);
        zt_free(copy);
    }
    json_decref(hdr);
    json_decref(claims);
    return rc;
}

int zt_auth_verify(const char *secret, const char *issuer, const char *audience, const char *token,
                    size_t len, int64_t now_s, struct zt_auth_principal *out, const char **why)
{
    if (!secret || !secret[0]) return ZT_EINVAL;
    struct zt_auth_keys k;
    zt_auth_keys_init(&k);
    k.hs_secret = secret;
    k.algs = ZT_AUTH_ALG_HS256;
    return zt_auth_verify_keys(&k, issuer, audience, token, len, now_s, out, why);
}

