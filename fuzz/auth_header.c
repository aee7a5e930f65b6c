/* fuzz/auth_header.c: the Authorization header parser and the JWT checks
 * behind it (src/crypto/jwt.c). Properties: an accepted header is
 * "Bearer " (any case) plus a token inside the input of three non-empty
 * base64url segments; verification of anything not signed with the secret
 * below fails without crashing, and a success names an identity and role.
 * The same token also goes through the RS256/EdDSA verifier (an RSA and an
 * Ed25519 public key loaded from PEM, HS256 allowed with the same secret):
 * it must never accept what the HS256-only path refused unless the token
 * says RS256 or EdDSA, whose private keys nobody here holds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_auth.h"
#include "zentalk/zt_alloc.h"

static const char RSA_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2xCQ6r61QLC5U1CH+iwF\n"
    "snwhZLlhtV4G6nEaeT4tMPFX2kuwlm8TrZy6Z+LdhhL/INM8G7MtkrKxxsV0gcRe\n"
    "56bEboR8D8fjoHRvdh00cYlN+jORz7qjxeVJg6TaOsg4us+JyxCNFqds480K7hSm\n"
    "NPXMdX9crMYwfOq18dfNp2PKZiKAdvtXD/DoAW+alJ1koVOwA9Lqze2cRJQfXJFr\n"
    "k2Yj9NstJLiVM3R/4E8EXXFIw89mYvAYK7J88J34nN2yAXq/6FWCmSwPaYyTAMQW\n"
    "swcadlGwNOhz+b6XDXoCLoPU5U2qnEx7YCZ7ZwmxDQkS7fJyiDwxQvgQ6Zm6nDXd\n"
    "CwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";
static const char ED_PUB[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MCowBQYDK2VwAyEAmIuj+ePHWjpQpCO2sGEzju0WJDtfXdziMrMeZP1G+w4=\n"
                             "-----END PUBLIC KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > ZT_AUTH_MAX_HEADER + 16) return 0;
    char *s = zt_malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    const char *tok = NULL;
    size_t len = 0;
    if (zt_auth_parse_header(s, &tok, &len) == 0) {
        if (tok != s + 7 || len == 0 || tok + len > s + size || strlen(s) > ZT_AUTH_MAX_HEADER) abort();
        size_t dots = 0;
        for (size_t i = 0; i < len; i++) dots += tok[i] == '.';
        if (dots != 2) abort();
        struct zt_auth_principal p;
        const char *why = NULL;
        int rc = zt_auth_verify("fuzz-secret-0123456789abcdef", "zentalk-api", "zentalk-ai", tok, len,
                                 1800000000, &p, &why);
        if (rc == 0 && (!p.identity[0] || p.role == ZT_AUTH_NONE)) abort();
        if (rc != 0 && rc != ZT_ENOMEM && !why) abort();
        static struct zt_auth_keys rsa, ed;
        static int loaded;
        if (!loaded) {
            const char *w = NULL;
            zt_auth_keys_init(&rsa);
            zt_auth_keys_init(&ed);
            if (zt_auth_keys_set_pem(&rsa, RSA_PUB, sizeof RSA_PUB - 1, &w) != 0 || !rsa.rsa_pem ||
                zt_auth_keys_set_pem(&ed, ED_PUB, sizeof ED_PUB - 1, &w) != 0 || !ed.has_ed25519)
                abort();
            rsa.algs = ed.algs = ZT_AUTH_ALG_HS256 | ZT_AUTH_ALG_RS256 | ZT_AUTH_ALG_EDDSA;
            rsa.hs_secret = ed.hs_secret = "fuzz-secret-0123456789abcdef";
            loaded = 1;
        }
        const struct zt_auth_keys *sets[2] = {&rsa, &ed};
        for (int i = 0; i < 2; i++) {
            struct zt_auth_principal q;
            const char *why2 = NULL;
            int rc2 = zt_auth_verify_keys(sets[i], "zentalk-api", "zentalk-ai", tok, len, 1800000000, &q, &why2);
            /* nobody here can forge RS256/EdDSA, so nothing new may pass */
            if (rc2 == 0 && rc != 0) abort();
            if (rc2 != 0 && rc2 != ZT_ENOMEM && !why2) abort();
            if (rc2 == 0 && (!q.identity[0] || q.role == ZT_AUTH_NONE)) abort();
        }
    }
    zt_free(s);
    return 0;
}
