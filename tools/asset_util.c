/* asset_util.c: helpers shared by the zt-assets converters (assets.h). */
#include <stdio.h>

#include "assets.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"

#define SOURCE_MAX ((size_t)1 << 30)

int zt__asset_read_source(const char *path, uint8_t **data, size_t *len, uint8_t sha[32])
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;
    if (!f) return -1;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            if (nc > SOURCE_MAX) goto out;
            uint8_t *nb = zt_realloc(b, nc + 1);
            if (!nb) goto out;
            b = nb, cap = nc;
        }
        size_t k = fread(b + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    if (ferror(f)) goto out;
    b[n] = 0;
    zt_sha256(sha, b, n);
    *data = b;
    *len = n;
    b = NULL;
    rc = 0;
out:
    fclose(f);
    zt_free(b);
    return rc;
}
