/* fuzz/wallet_sig.c: the wallet login parsers and signature recovery
 * (src/crypto/wallet.c). The input is split at the first newline: the
 * first line goes to the address, signature and bearer parsers, the rest
 * is the signed message. Properties: an accepted address or signature
 * re-encodes to the same bytes (case aside); a parsed signature either
 * recovers an address or is refused, and recovering never crashes; an
 * accepted bearer token is 43 base64url characters after "Bearer ". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_wallet.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_hex(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'F') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'F') y = (char)(y - 'A' + 'a');
        if (x != y) return false;
    }
    return *a == *b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *s = zt_malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *nl = memchr(s, '\n', size);
    const char *msg = "";
    size_t msg_len = 0;
    if (nl) {
        *nl = '\0';
        msg = nl + 1;
        msg_len = size - (size_t)(nl + 1 - s);
    }
    uint8_t addr[ZT_WALLET_ADDR_LEN], sig[ZT_WALLET_SIG_LEN], got[ZT_WALLET_ADDR_LEN];
    if (zt_wallet_parse_address(s, addr) == 0) {
        char out[ZT_WALLET_ADDR_STR];
        zt_wallet_format_address(addr, out);
        if (!same_hex(out + 2, s + 2) || strlen(s) != 42) abort();
        uint8_t back[ZT_WALLET_ADDR_LEN];
        if (zt_wallet_parse_address(out, back) != 0 || memcmp(back, addr, sizeof addr) != 0) abort();
    }
    if (zt_wallet_parse_sig(s, sig) == 0) {
        char hex[2 * ZT_WALLET_SIG_LEN + 1];
        zt_hex_encode(hex, sig, sizeof sig);
        if (strlen(s) != 132 || !same_hex(hex, s + 2)) abort();
        uint8_t h[32];
        zt_eip191_hash(msg, msg_len, h);
        int rc = zt_wallet_recover(h, sig, got);
        if (rc != 0 && rc != ZT_ECRYPTO) abort();
        if (rc == 0 && !zt_wallet_verify_personal(msg, msg_len, sig, got)) abort();
    }
    const char *tok;
    size_t len;
    if (zt_wallet_parse_bearer(s, &tok, &len) == 0 &&
        (tok != s + 7 || len != ZT_WALLET_TOKEN_LEN || strlen(s) != 7 + ZT_WALLET_TOKEN_LEN))
        abort();
    zt_free(s);
    return 0;
}
