/* json_doc.c: reading the signed JSON documents of src/crypto: json_doc.h. */
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "json_doc.h"

void zt__json_wipe_string(json_t *v)
{
    const char *str = json_string_value(v);
    if (str) sodium_memzero((char *)(uintptr_t)str, strlen(str));
}

int zt__json_doc_load(const char *text, size_t len, json_t **out, json_error_t *jerr)
{
    json_error_t e1, e2;
    json_t *a = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e1);
    json_t *b = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e2);
    int rc = ZT_ENOMEM;
    if (a && b) {
        if (json_equal(a, b)) rc = 0;
    } else if (!a && !b) {
        rc = json_error_code(&e1) == json_error_out_of_memory || json_error_code(&e2) == json_error_out_of_memory
                 ? ZT_ENOMEM
                 : ZT_EPARSE;
    }
    if (jerr) *jerr = e1;
    if (json_is_object(b)) zt__json_wipe_string(json_object_get(b, "secret"));
    json_decref(b);
    if (rc == 0) {
        *out = a;
        return 0;
    }
    if (json_is_object(a)) zt__json_wipe_string(json_object_get(a, "secret"));
    json_decref(a);
    return rc;
}

int zt__json_doc_signed_by(json_t *j, const uint8_t pk[static ZT_ED25519_PK_LEN], const char *claimed,
                           char node_id[static ZT_IDENTITY_ID_SIZE], size_t max)
{
    zt_identity_node_id(pk, node_id);
    if (strcmp(node_id, claimed) != 0) return ZT_ECRYPTO;
    int rc = zt_identity_verify_json(pk, j, max);
    return rc == ZT_EPARSE ? ZT_ECRYPTO : rc;
}

int zt__json_doc_shape(const json_t *j, const char *const *keys, json_int_t version)
{
    if (!json_is_object(j)) return ZT_EPARSE;
    size_t n = 0;
    for (; keys[n]; n++)
        if (!json_object_get(j, keys[n])) return ZT_EPARSE;
    if (json_object_size(j) != n) return ZT_EPARSE;
    json_t *v = json_object_get(j, "v");
    if (!json_is_integer(v)) return ZT_EPARSE;
    return json_integer_value(v) == version ? 0 : ZT_EUNSUPPORTED;
}
