/* fuzz/translate_request.c: the POST /v1/features/translate request checks
 * (zt_translate_req_parse, src/server/translate_api.c) on arbitrary JSON. Properties: an
 * accepted request has 1..64 non-empty texts of at most max_bytes, valid
 * UTF-8 without NUL, a known 639-3 target and (if any) source; a refusal is
 * a 4xx with a code and a message. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_translate.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_translate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!j) return 0;
    struct zt_translate_req r;
    const char *code = NULL;
    char msg[512];
    int st = zt_translate_req_parse(j, 64, &r, &code, msg, sizeof msg);
    if (st == 0) {
        if (r.n < 1 || r.n > ZT_TRANSLATE_REQ_MAX_TEXTS || (r.n > 1 && !r.batch)) abort();
        for (size_t i = 0; i < r.n; i++) {
            if (r.lens[i] == 0 || r.lens[i] > 64 || memchr(r.texts[i], '\0', r.lens[i])) abort();
            if (!zt_utf8_valid(r.texts[i], r.lens[i])) abort();
        }
        if (!r.target3 || zt_translate_lang3(r.target3) != r.target3) abort();
        if (r.source3 && zt_translate_lang3(r.source3) != r.source3) abort();
    } else {
        if (st < 400 || st > 499 || !code || !msg[0]) abort();
    }
    json_decref(j);
    return 0;
}
