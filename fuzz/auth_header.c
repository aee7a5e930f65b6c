/* fuzz/auth_header.c: the Authorization header parser and the JWT checks
 * behind it (src/server/auth.c). Properties: an accepted header is
 * "Bearer " (any case) plus a token inside the input of three non-empty
 * base64url segments; verification of anything not signed with the secret
 * below fails without crashing, and a success names an identity and role. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/server/auth.h"
#include "zentalk/zt_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > ZT__AUTH_MAX_HEADER + 16) return 0;
    char *s = zt_malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    const char *tok = NULL;
    size_t len = 0;
    if (zt__auth_parse_header(s, &tok, &len) == 0) {
        if (tok != s + 7 || len == 0 || tok + len > s + size || strlen(s) > ZT__AUTH_MAX_HEADER) abort();
        size_t dots = 0;
        for (size_t i = 0; i < len; i++) dots += tok[i] == '.';
        if (dots != 2) abort();
        struct zt__auth_principal p;
        const char *why = NULL;
        int rc = zt__auth_verify("fuzz-secret-0123456789abcdef", "zentalk-api", "zentalk-ai", tok, len,
                                 1800000000, &p, &why);
        if (rc == 0 && (!p.identity[0] || p.role == ZT__AUTH_NONE)) abort();
        if (rc != 0 && rc != ZT_ENOMEM && !why) abort();
    }
    zt_free(s);
    return 0;
}
