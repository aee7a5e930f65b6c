/* fuzz/nodeauth.c: the signed node request header parser and verifier
 * (src/net/nodeauth.c). The input is split at newlines into the four
 * header values (Zentalk-Node, -Date, -Nonce, -Signature), then method,
 * target and body. Properties: a parse success has a valid node id, a
 * date within 18 digits, a 32-hex nonce, and a signature whose base64
 * re-encodes to the input; verifying it against a registry holding only a
 * fixed key never succeeds (nobody here holds that key's secret for these
 * inputs) and never crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_nodeauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct zt_nodeauth_verifier *verifier;
static struct zt_peers *peers;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192) return 0;
    if (!verifier) {
        if (sodium_init() < 0 || zt_nodeauth_verifier_new(64, &verifier) != 0 || zt_peers_new(&peers) != 0) abort();
    }
    char *s = zt_malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *f[7] = {0};
    char *p = s;
    for (int i = 0; i < 7; i++) {
        f[i] = p;
        char *nl = p ? strchr(p, '\n') : NULL;
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p = NULL;
        }
    }
    struct zt_nodeauth_parsed np;
    if (zt_nodeauth_parse(f[0], f[1], f[2], f[3], &np) == 0) {
        if (!zt_identity_id_valid(np.node) || np.date < 0 || strlen(f[1]) > 18 || strlen(np.nonce) != 32) abort();
        char again[ZT_NODEAUTH_SIG_B64 + 1];
        sodium_bin2base64(again, sizeof again, np.sig, sizeof np.sig, sodium_base64_VARIANT_ORIGINAL);
        if (strcmp(again, f[3]) != 0) abort();
        const char *method = f[4] ? f[4] : "POST", *target = f[5] ? f[5] : "/";
        const char *body = f[6] ? f[6] : "";
        const char *why = NULL;
        int rc = zt_nodeauth_verify(verifier, peers, "zt1aizub4ibwtcvkirhee3zfsdhn36ekgqc", method, target, body,
                                    strlen(body), &np, np.date, &why);
        if (rc == 0 || !why) abort();
    }
    zt_free(s);
    return 0;
}
