/* fuzz/audit_line.c: the audit line parser of `zentalk audit verify`, and
 * verify itself over the input taken as a whole audit file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_audit.h"
#include "../src/privacy/audit_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    struct zt__audit_line l;
    int rc = zt__audit_parse_line((const char *)data, size, &l);
    if (rc != 0 && rc != ZT_EPARSE) abort();
    if (rc == 0 && l.seq == 0) abort();
    if (rc == 0 && l.checkpoint && !l.has_sig) abort();
    /* the whole input as a file */
    char path[64];
    snprintf(path, sizeof path, "/tmp/zt_fuzz_audit_%ld.jsonl", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    static const uint8_t pk[32] = {1};
    const char *files[1] = {path};
    struct zt_audit_report rep;
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    rc = zt_audit_verify(files, 1, pk, &rep, &out);
    if (rc != 0 && rc != ZT_ECRYPTO && rc != ZT_ENOMEM) abort();
    if (rc == 0 && rep.problems) abort();
    zt_buf_deinit(&out);
    unlink(path);
    return 0;
}
