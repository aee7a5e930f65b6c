/* gdpr_api.h: the GDPR export and erasure routes (internal to src/server; docs/privacy/DATA_HANDLING.md, docs/api.md).
 *
 * POST /v1/privacy/export and POST /v1/privacy/erase act on one identity:
 * the caller's own (JWT sub, or "wallet:0x..." for a wallet session), or,
 * for an admin (the loopback operator of the embedded default included),
 * the one named in {"identity": ...}. A non-admin naming another identity
 * gets 403.
 *
 * Export: a JSON archive of what this node holds about the identity:
 * wallet sessions (creation and expiry, never tokens), search messages
 * decrypted for the owner, audit entries about it (found by recomputing
 * its pseudonym while the salt exists, and by clear identity for entries
 * written before pseudonyms existed), and the categories the node does not
 * keep, each with the reason. At most ZT__GDPR_EXPORT_MAX bytes of
 * content and ZT__GDPR_EXPORT_MAX_DOCS messages: beyond, 413
 * export_too_large.
 *
 * Erase: delete the identity's search messages and destroy its search key
 * (crypto-shredding), revoke its wallet sessions and nonces, write the
 * erase's own audit entry (pseudonymous), then destroy the pseudonym salt
 * so that no audit entry can be tied to the identity any more.
 * Idempotent; the answer counts what went.
 *
 * The retention sweeper is the privacy layer's (zt_gdpr.h). */
#ifndef ZT_SERVER_GDPR_API_H
#define ZT_SERVER_GDPR_API_H

#include <jansson.h>
#include <stddef.h>

#include "search_api.h"
#include "privacy_api.h"
#include "req.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_wallet.h"

#define ZT__GDPR_EXPORT_MAX ((size_t)16 << 20) /* bytes of messages + audit entries in one export */
#define ZT__GDPR_EXPORT_MAX_DOCS 100000          /* search messages in one export */
#define ZT__GDPR_SESSIONS_MAX 1024             /* wallet sessions listed per identity */
#define ZT__GDPR_LEDGER_MAX 1000               /* ledger entries listed per identity, newest first */

struct zt__gdpr;
struct zt_chain;

/* Borrowed: everything outlives the context (chain NULL: no ledger). ZT_ENOMEM. */
ZT_NODISCARD int zt__gdpr_new(const struct zt_config *cfg, const char *node_id, struct zt_privacy_layer *pv,
                              struct zt_searchfeat *search, struct zt_wallet *wallet, struct zt_chain *chain,
                              struct zt__gdpr **out);
/* NULL is a no-op. */
void zt__gdpr_free(struct zt__gdpr *g);

/* The routes (ud: the struct zt__gdpr). */
void zt__gdpr_h_export(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__gdpr_h_erase(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
