/* fuzz/jwt_claims.c: the JWT claim checks (exp, nbf, iss, aud, sub, role)
 * of src/crypto/jwt.c behind a VALID HS256 signature, so that fuzzed
 * claims reach them (fuzz/auth_header.c cannot: its tokens fail the
 * signature first). The input is the payload JSON; the harness signs it.
 * Edge values such as "exp": 9223372036854775807 once overflowed
 * "exp + leeway" (issue 17 item 4). Properties: no crash or UB; a token is
 * accepted only when its payload is a JSON object whose integer exp is not
 * more than the leeway in the past, whose nbf (if any) is an integer not
 * more than the leeway in the future, and the principal names a non-empty
 * identity with a known role. */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_auth.h"
#include "zentalk/zt_alloc.h"

#define SECRET "fuzz-secret-0123456789abcdef"
#define NOW ((int64_t)1800000000)
#define MAX_PAYLOAD 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t b64url(char *out, size_t cap, const uint8_t *in, size_t n)
{
    sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strlen(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_PAYLOAD || sodium_init() < 0) return 0;
    static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char tok[64 + sodium_base64_ENCODED_LEN(MAX_PAYLOAD, sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
             sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    size_t n = b64url(tok, sizeof tok, (const uint8_t *)hdr, sizeof hdr - 1);
    tok[n++] = '.';
    n += b64url(tok + n, sizeof tok - n, data, size);
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const uint8_t *)SECRET, sizeof SECRET - 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)tok, n);
    crypto_auth_hmacsha256_final(&st, mac);
    tok[n++] = '.';
    n += b64url(tok + n, sizeof tok - n, mac, sizeof mac);

    struct zt_auth_principal p;
    const char *why = NULL;
    int rc = zt_auth_verify(SECRET, "", "", tok, n, NOW, &p, &why);
    if (rc != 0) {
        if (rc != ZT_ECRYPTO && rc != ZT_ETOOBIG && rc != ZT_ENOMEM) abort();
        return 0;
    }
    /* accepted: check the claims ourselves */
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) abort();
    json_t *exp = json_object_get(j, "exp"), *nbf = json_object_get(j, "nbf");
    if (!json_is_integer(exp) || json_integer_value(exp) < NOW - ZT_AUTH_LEEWAY_S) abort();
    if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) > NOW + ZT_AUTH_LEEWAY_S)) abort();
    json_decref(j);
    if (!p.identity[0] || memchr(p.identity, '\0', sizeof p.identity) == NULL) abort();
    if (p.role != ZT_AUTH_USER && p.role != ZT_AUTH_PROVIDER && p.role != ZT_AUTH_ADMIN) abort();
    return 0;
}
