/* zt_pseudoid.h: keyed pseudonyms of caller identities for the audit log.
 *
 * The audit log is hash-chained and signed: an entry cannot be edited
 * after the fact, so an identity written into it in clear could never be
 * erased. Entries carry a pseudonym instead:
 *
 *     pseudonym = "p:" + hex(HMAC-SHA256(salt(identity), identity))[0..32)
 *
 * where salt(identity) is 32 random bytes made on first use and kept in the
 * store (table identity_salts) under ref = BLAKE2b-256(K_ref, identity),
 * K_ref = crypto_kdf(node secret, id 1, "ztpseuid"). While the salt exists
 * the node can recompute an identity's pseudonym (GDPR export finds its
 * entries); zt_pseudoid_forget() deletes the salt (GDPR erase), after which
 * nobody, the node included, can tie the old entries to the identity: the
 * HMAC key is gone, and a new salt made later gives a new, unrelated
 * pseudonym. docs/privacy/COMPLIANCE.md.
 *
 * Thread-safe (one mutex around the store handle, which this context owns
 * alone). Errors: ZT_EINVAL (empty or oversized identity), ZT_ENOMEM,
 * store errors (ZT_EIO, ZT_EBUSY). */
#ifndef ZT_PSEUDOID_H
#define ZT_PSEUDOID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"
#include "zt_store.h"

#define ZT_PSEUDOID_SECRET_LEN 32
#define ZT_PSEUDOID_IDENTITY_MAX 256 /* bytes of an identity */
#define ZT_PSEUDOID_STR 35           /* "p:" + 32 hex + NUL */

struct zt_pseudoid;

/* store: owned from here on (closed by zt_pseudoid_free, also on failure).
 * secret: ZT_PSEUDOID_SECRET_LEN bytes, copied into sodium_malloc'd memory. */
ZT_NODISCARD int zt_pseudoid_new(struct zt_store *store, const uint8_t secret[static ZT_PSEUDOID_SECRET_LEN],
                                 struct zt_pseudoid **out);
/* NULL is a no-op. */
void zt_pseudoid_free(struct zt_pseudoid *p);

/* The pseudonym of identity into out (NUL-terminated). With create, a salt
 * is made when the identity has none; without, ZT_ENOTFOUND. */
ZT_NODISCARD int zt_pseudoid_get(struct zt_pseudoid *p, const char *identity, bool create,
                                 char out[static ZT_PSEUDOID_STR]);
/* Delete identity's salt; *found (may be NULL) says whether there was one.
 * Idempotent. */
ZT_NODISCARD int zt_pseudoid_forget(struct zt_pseudoid *p, const char *identity, bool *found);

/* Whether s looks like a pseudonym ("p:" + 32 lower-case hex digits). */
bool zt_pseudoid_is(const char *s);

#endif
