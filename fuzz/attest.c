/* fuzz/attest.c: libFuzzer harness for the attestation report verifier
 * (src/crypto/attest.c).
 *
 * Input: a report. zt_attest_verify() runs once with the nonce of the seed
 * corpus and once without a nonce check. A verified report must have a
 * well-formed node id, type "software" and an engine string; nothing may be
 * written on failure and nothing may leak. Any violated property aborts so
 * libFuzzer keeps the input. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_attest: %s\n", what);
    abort();
}

static const char NONCE[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        json_set_alloc_funcs(zt_malloc, zt_free);
        init = 1;
    }
    int64_t live = zt_alloc_live();
    for (int pass = 0; pass < 2; pass++) {
        struct zt_attest_report r;
        memset(&r, 0, sizeof r);
        int rc = zt_attest_verify((const char *)data, size, pass ? NULL : NONCE, &r);
        if (rc == 0) {
            if (!zt_identity_id_valid(r.node_id) || strcmp(r.type, "software") != 0 || !r.engine ||
                (r.n_models && !r.models))
                fail("verified report is malformed");
            zt_attest_report_deinit(&r);
        } else if (r.engine || r.models || r.node_id[0]) {
            fail("report written on failure");
        }
    }
    if (zt_alloc_live() != live) fail("leak");
    return 0;
}
