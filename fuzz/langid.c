/* fuzz/langid.c: zt_langid_detect over arbitrary bytes (libexttextcat's
 * fingerprinting of untrusted text). Invariants: valid UTF-8 is always
 * classified; confidence in [0, 1]; "und" exactly when below the
 * threshold; runners-up ordered. Skips when the fingerprints are not
 * installed (Debian libexttextcat-data). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_langid.h"
#include "zentalk/zt_str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct zt_langid *lid;
static int tried;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tried) {
        static const char *const langs[] = {"en", "es", "fr", "de", "it", "pt", "nl", "ca", "ru", "zh", "ja", "ar"};
        tried = 1;
        if (zt_langid_new("/usr/share/libexttextcat", langs, sizeof langs / sizeof langs[0], &lid, NULL) != 0)
            lid = NULL;
    }
    if (!lid || size > 8192) return 0;
    const char *s = (const char *)data;
    struct zt_langid_result r;
    double th = size ? (data[0] & 0x7f) / 127.0 : 0.5;
    int rc = zt_langid_detect(lid, s, size, th, &r);
    if (zt_utf8_valid(s, size) && rc != 0) abort();
    if (rc != 0) return 0;
    if (!(r.confidence >= 0 && r.confidence <= 1)) abort();
    bool und = strcmp(r.code, "und") == 0;
    if (und != !(r.confidence >= th && r.confidence > 0)) {
        if (!(und && r.confidence == 0)) abort();
    }
    for (size_t i = 0; i < r.n_alts; i++) {
        if (r.alts[i].distance_ratio < 1.0) abort();
        if (i && r.alts[i].distance_ratio < r.alts[i - 1].distance_ratio) abort();
    }
    return 0;
}
