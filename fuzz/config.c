/* fuzz/config.c: libFuzzer harness for the configuration loader.
 *
 * Input layout: the first byte picks the mode, the rest is the payload.
 *   first byte & 0x40 clear (e.g. '0'..'9'): YAML; (byte & 0x0f) % 10 picks
 *     the file kind (0 config.yaml ... 8 features.yaml, 9 config.example.yaml);
 *   first byte & 0x40 set (e.g. 'E'): environment; the payload is split at
 *     '\n' into NAME=VALUE strings for zt_config_apply_env().
 * Every run then validates, dumps, re-parses the dump (which must succeed and
 * dump identically), deinits, and checks that no allocation leaked. Any
 * violated property aborts so libFuzzer keeps the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const kinds[] = {
    "config.yaml",      "encryption.yaml", "gpu-pool.yaml", "database.yaml", "chain.yaml",
    "integration.yaml", "privacy.yaml",    "models.yaml",   "features.yaml", "config.example.yaml",
};

#define ERRS_MAX (1u << 16)
#define MAX_ENV 64

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_config: %s\n%s\n", what, detail ? detail : "");
    abort();
}

/* Split the payload into at most MAX_ENV NUL-terminated lines in one block. */
static int apply_env(struct zt_config *cfg, const uint8_t *p, size_t n, struct zt_buf *errs)
{
    char *block = zt_malloc(n + 1);
    char *envp[MAX_ENV + 1];
    size_t count = 0;
    if (!block) return ZT_ENOMEM;
    memcpy(block, p, n);
    block[n] = '\0';
    char *line = block;
    for (size_t i = 0; i <= n && count < MAX_ENV; i++) {
        if (i == n || block[i] == '\n') {
            block[i] = '\0';
            envp[count++] = line;
            line = block + i + 1;
        }
    }
    envp[count] = NULL;
    int rc = zt_config_apply_env(cfg, envp, errs);
    zt_free(block);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    int64_t live0 = zt_alloc_live();
    struct zt_config cfg, again;
    struct zt_buf errs, dump1, dump2;
    zt_buf_init(&errs, ERRS_MAX);
    zt_buf_init(&dump1, 1u << 22);
    zt_buf_init(&dump2, 1u << 22);
    if (zt_config_init_defaults(&cfg) != 0) fail("init_defaults failed", NULL);

    int rc;
    if (data[0] & 0x40) {
        rc = apply_env(&cfg, data + 1, size - 1, &errs);
    } else {
        const char *kind = kinds[(data[0] & 0x0f) % (sizeof kinds / sizeof kinds[0])];
        rc = zt_config_load_string(&cfg, kind, "fuzz.yaml", (const char *)data + 1, size - 1,
                                   &errs);
    }
    if (rc != 0 && rc != ZT_ECONFIG) fail("unexpected load result", zt_buf_str(&errs));
    /* Every refusal explains itself (the buffer is far larger than one line). */
    if (rc == ZT_ECONFIG && errs.len == 0) fail("ZT_ECONFIG without a message", NULL);

    zt_buf_reset(&errs);
    rc = zt_config_validate(&cfg, &errs);
    if (rc != 0 && rc != ZT_ECONFIG) fail("unexpected validate result", zt_buf_str(&errs));
    if (rc == ZT_ECONFIG && errs.len == 0) fail("validate failed without a message", NULL);

    /* What was accepted dumps, and the dump reads back to the same values. */
    if (zt_config_dump(&cfg, &dump1) != 0) fail("dump failed", NULL);
    if (zt_config_init_defaults(&again) != 0) fail("init_defaults failed", NULL);
    zt_buf_reset(&errs);
    rc = zt_config_load_string(&again, "config.example.yaml", "dump", zt_buf_str(&dump1), dump1.len,
                               &errs);
    if (rc != 0) fail("dump does not parse back", zt_buf_str(&errs));
    if (zt_config_dump(&again, &dump2) != 0) fail("second dump failed", NULL);
    if (dump1.len != dump2.len || memcmp(dump1.data, dump2.data, dump1.len) != 0)
        fail("dump changed after a round trip", zt_buf_str(&dump1));

    zt_config_deinit(&again);
    zt_config_deinit(&cfg);
    zt_buf_deinit(&dump2);
    zt_buf_deinit(&dump1);
    zt_buf_deinit(&errs);
    if (zt_alloc_live() != live0) fail("allocation leaked", NULL);
    return 0;
}
