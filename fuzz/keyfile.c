/* fuzz/keyfile.c: libFuzzer harness for the node key file parser and the
 * signed node descriptor verifier (src/crypto/identity.c).
 *
 * Input layout: the first byte picks the mode, the rest is the payload.
 *   'D' (0x44): zt_identity_descriptor_verify(payload, now = 1700000000);
 *   otherwise:  zt_identity_parse(payload), with the passphrase "fuzz" when
 *               the byte's lowest bit is set ('1'), without one when clear ('0').
 * Argon2id is capped at its minimum cost (1 pass, 8 KiB) so every run is fast.
 * A parsed identity must have a well-formed id; nothing may leak. Any
 * violated property aborts so libFuzzer keeps the input. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_identity.h"
#include "../src/crypto/identity_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_keyfile: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        json_set_alloc_funcs(zt_malloc, zt_free);
        zt__identity_test_set_kdf_max(1, 8192);
        init = 1;
    }
    if (size == 0) return 0;
    int64_t live = zt_alloc_live();
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] == 'D') {
        struct zt_node_descriptor d;
        memset(&d, 0, sizeof d);
        int rc = zt_identity_descriptor_verify(text, len, 1700000000, &d);
        if (rc == 0) {
            if (!zt_identity_id_valid(d.node_id) || !d.endpoint) fail("verified descriptor is malformed");
            zt_node_descriptor_deinit(&d);
        } else if (d.endpoint || d.roles || d.models) {
            fail("descriptor written on failure");
        }
    } else {
        struct zt_identity *id = NULL;
        struct zt_buf err;
        zt_buf_init(&err, 4096);
        bool with_pass = (data[0] & 1) != 0;
        int rc = zt_identity_parse(text, len, with_pass ? "fuzz" : NULL, with_pass ? 4 : 0, &id, &err);
        if (rc == 0) {
            if (!id || !zt_identity_id_valid(zt_identity_id(id))) fail("parsed identity has a bad id");
            zt_identity_free(id);
        } else {
            if (id) fail("identity written on failure");
            if (rc != ZT_ENOMEM && err.len == 0) fail("failure without a reason");
        }
        zt_buf_deinit(&err);
    }
    if (zt_alloc_live() != live) fail("leak");
    return 0;
}
