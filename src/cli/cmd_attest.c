/* cmd_attest.c: `zentalk attest URL [--nonce HEX] [--expect-binary SHA256] [--json]`.
 * See cmd_attest.h and docs/privacy/ATTESTATION.md. */
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_attest.h"
#include "cmd.h"
#include "http.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_attest.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_version.h"

#define NONCE_BYTES 32

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: zentalk attest [URL] [--nonce HEX] [--expect-binary SHA256] [--json]\n"
            "\n"
            "Ask a node for an attestation report bound to a fresh nonce and check it:\n"
            "the signature by the node key, the node id derived from that key, and the\n"
            "nonce. Prints the node id, its KEM public key, the SHA-256 of its binary,\n"
            "the engine build and the loaded models with their SHA-256.\n"
            "\n"
            "  URL                    node address (or -u/--url; default $ZENTALK_URL\n"
            "                         or " ZT__CLI_DEFAULT_URL ")\n"
            "  --nonce HEX            the nonce to send (16 to 64 bytes in hex; default:\n"
            "                         32 random bytes)\n"
            "  --expect-binary HEX    fail unless the node's binary has this SHA-256\n"
            "  --json                 print the verified report as JSON\n"
            "\n"
            "A software report proves what the node claims, not the hardware it runs on.\n"
            "Exit status: 0 verified, 1 unreachable or any check failed, 2 usage error.\n");
}

static const char *verify_reason(int rc)
{
    switch (rc) {
    case ZT_ETOOBIG: return "the report is too large";
    case ZT_EPARSE: return "the report is malformed";
    case ZT_EUNSUPPORTED: return "unsupported report version or type (only software reports can be checked)";
    case ZT_ECRYPTO: return "bad signature, or the node id does not belong to the signing key";
    case ZT_ETIMEDOUT: return "the report does not answer our nonce (replayed or stale)";
    case ZT_ENOMEM: return "out of memory";
    default: return zt_strerror(rc);
    }
}

static void print_report(const struct zt_attest_report *r, bool binary_checked)
{
    char hex[2 * ZT_SHA256_LEN + 1], when[ZT_TIME_ISO_LEN];
    printf("node:        %s\n", r->node_id);
    zt_hex_encode(hex, r->ed25519_pk, sizeof r->ed25519_pk);
    printf("ed25519_pk:  %s\n", hex);
    zt_hex_encode(hex, r->kem_pk, sizeof r->kem_pk);
    printf("kem_pk:      %s\n", hex);
    zt_hex_encode(hex, r->binary_sha256, sizeof r->binary_sha256);
    printf("binary:      sha256 %s%s\n", hex, binary_checked ? " (as expected)" : "");
    printf("engine:      %s\n", r->engine);
    if (r->n_models == 0) printf("models:      none loaded\n");
    for (size_t i = 0; i < r->n_models; i++) {
        zt_hex_encode(hex, r->models[i].sha256, sizeof r->models[i].sha256);
        printf("%s %s  sha256 %s\n", i == 0 ? "models:     " : "            ", r->models[i].id, hex);
    }
    zt_time_iso8601(when, sizeof when, r->issued_at * 1000);
    printf("issued_at:   %s\n", when);
    printf("nonce:       %s (ours)\n", r->nonce);
    printf("signature:   valid (node key)\n");
    printf("type: software \u2014 proves what the node claims, not the hardware it runs on\n");
}

int zt__cli_attest(int argc, char **argv)
{
    const char *url = zt__cli_node_url();
    const char *nonce_arg = NULL, *expect = NULL;
    bool as_json = false;
    const struct zt__cli_opt opts[] = {
        {"url", 'u', ZT__CLI_STR, &url},       {"nonce", 0, ZT__CLI_STR, &nonce_arg},
        {"expect-binary", 0, ZT__CLI_STR, &expect}, {"json", 0, ZT__CLI_FLAG, &as_json},
        {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {.name = "attest", .usage = usage};
    int prc = ZT__CLI_PARSE(argc, argv, 1, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    if (optind < argc) url = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "zentalk attest: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    uint8_t want_bin[ZT_SHA256_LEN];
    if (expect) {
        if (zt_hex_decode_str(want_bin, sizeof want_bin, expect, ZT_HEX_ANY_CASE) != 0) {
            fprintf(stderr, "zentalk attest: --expect-binary needs 64 hex digits (a SHA-256)\n");
            return 2;
        }
    }
    if (zt_crypto_init() != 0) {
        fprintf(stderr, "zentalk: libsodium failed to initialise\n");
        return 1;
    }
    char nonce[ZT_ATTEST_NONCE_HEX_SIZE];
    if (nonce_arg) {
        if (!zt_attest_nonce_valid(nonce_arg)) {
            fprintf(stderr, "zentalk attest: --nonce needs 16 to 64 bytes in hex (32 to 128 hex digits)\n");
            return 2;
        }
        zt_strlcpy(nonce, nonce_arg, sizeof nonce);
    } else {
        uint8_t rnd[NONCE_BYTES];
        randombytes_buf(rnd, sizeof rnd);
        zt_hex_encode(nonce, rnd, sizeof rnd);
    }

    int rc = 1;
    struct zt_buf body;
    zt_buf_init(&body, ZT_ATTEST_MAX);
    struct zt_attest_report r;
    memset(&r, 0, sizeof r);
    long status = 0;
    char path[256];
    snprintf(path, sizeof path, "/v1/attestation/report?nonce=%s", nonce);
    /* the first report after a model loads hashes its file: allow minutes */
    int hrc = zt__cli_http_get(url, path, 300000L, &status, &body);
    if (zt__cli_check_answer(hrc, status, &body)) goto out;
    int vrc = zt_attest_verify(zt_buf_str(&body), body.len, nonce, &r);
    if (vrc != 0) {
        fprintf(stderr, "zentalk attest: verification FAILED: %s\n", verify_reason(vrc));
        goto out;
    }
    if (expect && sodium_memcmp(want_bin, r.binary_sha256, sizeof want_bin) != 0) {
        char hex[2 * ZT_SHA256_LEN + 1];
        zt_hex_encode(hex, r.binary_sha256, sizeof r.binary_sha256);
        fprintf(stderr, "zentalk attest: verification FAILED: the node's binary is sha256 %s, not the expected %s\n",
                hex, expect);
        goto out;
    }
    if (as_json)
        printf("%s\n", zt_buf_str(&body));
    else
        print_report(&r, expect != NULL);
    rc = 0;
out:
    zt_attest_report_deinit(&r);
    zt_buf_deinit(&body);
    return rc;
}
