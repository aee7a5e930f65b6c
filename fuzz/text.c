/* fuzz/text.c: the text preprocessing of src/features (tokens, case
 * folding, sentences, normalisation). Checks invariants, not only "no
 * crash": tokens and sentences lie inside the input, in order, without
 * overlap; valid UTF-8 is accepted by every function. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192) return 0;
    const char *s = (const char *)data;
    bool valid = zt_utf8_valid(s, size);
    struct zt_token toks[256];
    size_t n = 0;
    int rc = zt_text_tokenize(s, size, toks, 256, &n);
    if (valid && rc != 0) abort();
    if (rc == 0) {
        size_t end = 0, m = n < 256 ? n : 256;
        for (size_t i = 0; i < m; i++) {
            if (toks[i].len == 0 || toks[i].off < end || toks[i].off + toks[i].len > size) abort();
            end = toks[i].off + toks[i].len;
            char out[64];
            long f = zt_text_token_fold(s, &toks[i], out, sizeof out);
            if (f < 0 && f != ZT_ETOOBIG) abort();
            if (!zt_utf8_valid(out, strlen(out))) abort();
        }
    }
    struct zt_span sp[64];
    rc = zt_text_sentences(s, size, sp, 64, &n);
    if (valid && rc != 0) abort();
    if (rc == 0) {
        size_t end = 0, m = n < 64 ? n : 64;
        for (size_t i = 0; i < m; i++) {
            if (sp[i].len == 0 || sp[i].off < end || sp[i].off + sp[i].len > size) abort();
            end = sp[i].off + sp[i].len;
        }
    }
    char *norm = NULL;
    size_t nl = 0;
    rc = zt_text_normalize(s, size, ZT_TEXT_NFKC | ZT_TEXT_CASEFOLD | ZT_TEXT_STRIP_CC, &norm, &nl);
    if (rc == 0) {
        if (!zt_utf8_valid(norm, nl)) abort();
        zt_free(norm);
    }
    return 0;
}
