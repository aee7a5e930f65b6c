/* gdpr.h: GDPR export and erasure, and the retention sweeper (internal to
 * src/server; docs/privacy/DATA_HANDLING.md, docs/api.md).
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
 * Sweeper: one background thread that applies the privacy.retention_*
 * periods at start and every privacy.sweep_interval_s (zt__gdpr_sweep). */
#ifndef ZT_SERVER_GDPR_H
#define ZT_SERVER_GDPR_H

#include "req.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_auth.h"
#include "feat_search.h"
#include "privacy.h"
#include "zentalk/zt_wallet.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http.h"

#define ZT__GDPR_EXPORT_MAX ((size_t)16 << 20) /* bytes of messages + audit entries in one export */
#define ZT__GDPR_EXPORT_MAX_DOCS 100000          /* search messages in one export */
#define ZT__GDPR_SESSIONS_MAX 1024             /* wallet sessions listed per identity */

struct zt__gdpr;

/* Borrowed: everything outlives the context. ZT_ENOMEM. */
ZT_NODISCARD int zt__gdpr_new(const struct zt_config *cfg, const char *node_id, struct zt__privacy *pv,
                              struct zt__feat_search *search, struct zt_wallet *wallet, struct zt__gdpr **out);
/* Start the sweeper thread (runs one sweep at once). ZT_EINVAL when
 * already started, ZT_ENOMEM. */
ZT_NODISCARD int zt__gdpr_start(struct zt__gdpr *g);
/* Stop the sweeper (waits for a sweep in progress), free. NULL is a no-op. */
void zt__gdpr_free(struct zt__gdpr *g);

/* What one sweep removed. */
struct zt__gdpr_sweep_stats {
    unsigned audit_files;
    size_t search_docs;
    size_t nonces, sessions;
    size_t temp_files;
    uint64_t runs; /* sweeps finished since start (zt__gdpr_runs) */
};
/* One sweep at now_ms (unix ms). Errors of one part are logged and the
 * others still run; returns the first error. */
ZT_NODISCARD int zt__gdpr_sweep(struct zt__gdpr *g, int64_t now_ms, struct zt__gdpr_sweep_stats *st);
/* Sweeps the thread finished so far. */
uint64_t zt__gdpr_runs(struct zt__gdpr *g);

/* Check an export/erase body: {} or {"identity": "<1..127 bytes, no
 * control characters>"}; *identity = NULL when absent. 0, or ZT_EINVAL
 * with the reason in why (the value is never quoted). */
ZT_NODISCARD int zt__gdpr_parse(json_t *body, const char **identity, char *why, size_t why_len);

/* Does one audit line (no newline) concern the identity? 1 when its
 * "identity" or "subject" is pseudonym (may be NULL), 2 when its
 * "identity" is identity in clear (entries written before pseudonyms),
 * 0 otherwise (also for lines that are not JSON objects). With entry
 * non-NULL, a matching line's parsed object goes to *entry (caller
 * decrefs). */
int zt__gdpr_audit_match(const char *line, size_t len, const char *pseudonym, const char *identity,
                         json_t **entry);

void zt__gdpr_h_export(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__gdpr_h_erase(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
