/* fuzz/entities.c: the entity extractor (zt_entities.h) over arbitrary
 * bytes, with the reference time and flags taken from the first bytes.
 * Checks invariants, not only "no crash": valid UTF-8 is accepted,
 * entities lie inside the input in order without overlap, byte and code
 * point spans agree, values are valid UTF-8 and non-empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_entities.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || size > 8192) return 0;
    struct zt_entities_ref ref = {
        /* within the accepted years 1..9999 (beyond, ZT_EINVAL is the right answer) */
        .now = (int64_t)((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8) * 64 %
               253402300800LL,
        .utc_offset = (int32_t)(data[3] % 97) * 15 - 720,
        .flags = data[3] & 1u,
    };
    const char *s = (const char *)data + 4;
    size_t len = size - 4;
    bool valid = zt_utf8_valid(s, len);
    struct zt_entity e[64];
    size_t n = 0;
    int rc = zt_entities_extract(s, len, &ref, e, 64, &n);
    if (valid != (rc == 0)) abort();
    if (rc) return 0;
    size_t end = 0, m = n < 64 ? n : 64;
    for (size_t i = 0; i < m; i++) {
        if (e[i].len == 0 || e[i].off < end || e[i].off + e[i].len > len) abort();
        end = e[i].off + e[i].len;
        if ((long)e[i].cp_off != zt_text_codepoints(s, e[i].off)) abort();
        if ((long)e[i].cp_len != zt_text_codepoints(s + e[i].off, e[i].len)) abort();
        size_t vl = strnlen(e[i].value, sizeof e[i].value);
        if (vl == 0 || vl == sizeof e[i].value || !zt_utf8_valid(e[i].value, vl)) abort();
        if (strcmp(zt_entity_type_name(e[i].type), "unknown") == 0) abort();
    }
    /* the same input gives the same answer */
    struct zt_entity e2[64];
    size_t n2 = 0;
    if (zt_entities_extract(s, len, &ref, e2, 64, &n2) != 0 || n2 != n) abort();
    for (size_t i = 0; i < m; i++)
        if (e2[i].off != e[i].off || strcmp(e2[i].value, e[i].value) != 0) abort();
    return 0;
}
