/* json_doc.h: reading the signed JSON documents of src/crypto (key files,
 * node descriptors, attestation reports); internal to src/crypto. */
#ifndef ZT_CRYPTO_JSON_DOC_H
#define ZT_CRYPTO_JSON_DOC_H

#include <jansson.h>
#include <stddef.h>

#include "zentalk/zt_error.h"
#include "zentalk/zt_identity.h"

/* json_loadb with duplicate keys rejected, and allocation failures told
 * apart from bad input. jansson 2.14 reports some failed allocations as a
 * syntax error or not at all, and when its lexer cannot grow its token
 * buffer it silently drops characters from a string. So the text is parsed
 * twice: two different outcomes mean an allocation failed (ZT_ENOMEM); the
 * same failure twice is bad input (ZT_EPARSE, *jerr set; jerr may be NULL).
 * Documents here are at most 64 KiB, so the second parse is cheap. Each
 * tree's "secret" member (key files) is wiped before it is freed. */
ZT_NODISCARD int zt__json_doc_load(const char *text, size_t len, json_t **out, json_error_t *jerr);

/* Whether j is an object with exactly the members keys names (a NULL-ended
 * list) and an integer "v" equal to version: 0, ZT_EUNSUPPORTED (another
 * version), ZT_EPARSE (anything else). */
ZT_NODISCARD int zt__json_doc_shape(const json_t *j, const char *const *keys, json_int_t version);

/* The last step of verifying a signed document j: pk's node id (into
 * node_id) is the one j claims (claimed) and j's "sig" is pk's signature
 * (zt_identity_verify_json; "sig" is removed from j). 0 or ZT_ECRYPTO,
 * ZT_ETOOBIG, ZT_ENOMEM. */
ZT_NODISCARD int zt__json_doc_signed_by(json_t *j, const uint8_t pk[static ZT_ED25519_PK_LEN], const char *claimed,
                                        char node_id[static ZT_IDENTITY_ID_SIZE], size_t max);

/* Overwrite the characters of a JSON string in place (no-op for others). */
void zt__json_wipe_string(json_t *v);

#endif
