/* fuzz/spam_asset.c: the spam model loader. The input is an asset payload
 * (zt_spam_model_parse) and, written to a file, a whole asset file
 * (zt_spam_load: container header, kind, version, trailing hash). A
 * malformed asset must be refused with an error; one that loads must
 * classify without crashing and give a probability in [0, 1]. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_spam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct zt_spam_model *m)
{
    struct zt_spam_result r;
    const char *t = "WIN a FREE prize!!! http://bit.ly/x $5 call +44 20 7946 0958";
    if (zt_spam_classify(m, t, strlen(t), 0.5, 4, &r) != 0) abort();
    if (!(r.probability >= 0.0 && r.probability <= 1.0)) abort();
    struct zt_spam_info info;
    zt_spam_model_info(m, &info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) return 0;
    struct zt_spam_model *m = NULL;
    int rc = zt_spam_model_parse(data, size, &m);
    if (rc == 0) {
        exercise(m);
        zt_spam_free(m);
    } else if (m) {
        abort();
    }
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/zt-fuzz-spam-%ld.zta", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    if (size) fwrite(data, 1, size, f);
    fclose(f);
    m = NULL;
    rc = zt_spam_load(path, &m);
    if (rc == 0) {
        exercise(m);
        zt_spam_free(m);
    } else if (m) {
        abort();
    }
    unlink(path);
    return 0;
}
