/* zt_gdpr.h: GDPR helpers of the privacy layer (src/privacy/gdpr.c): the
 * request schema of POST /v1/privacy/{export,erase}, matching audit log
 * entries to an identity, and the retention sweeper
 * (docs/privacy/DATA_HANDLING.md). The routes are src/server/gdpr_api.c. */
#ifndef ZT_GDPR_H
#define ZT_GDPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_config.h"
#include "zt_error.h"

struct json_t;
struct zt_wallet;

/* Check an export/erase body: {} or {"identity": "<1..127 bytes, no
 * control characters>"}; *identity = NULL when absent. 0, or ZT_EINVAL
 * with the reason in why (the value is never quoted). */
ZT_NODISCARD int zt_gdpr_parse(struct json_t *body, const char **identity, char *why, size_t why_len);

/* Does one audit line (no newline) concern the identity? 1 when its
 * "identity" or "subject" is pseudonym (may be NULL), 2 when its
 * "identity" is identity in clear (entries written before pseudonyms),
 * 0 otherwise (also for lines that are not JSON objects). With entry
 * non-NULL, a matching line's parsed object goes to *entry (caller
 * decrefs). */
int zt_gdpr_audit_match(const char *line, size_t len, const char *pseudonym, const char *identity,
                        struct json_t **entry);

/* Every audit entry about an identity in the audit log's directory
 * (audit-*.jsonl, oldest first): counted by kind (zt_gdpr_audit_match: 1 =
 * by pseudonym, 2 = in clear) and, with items non-NULL, the entries
 * appended to it until bytes would pass max (ZT_ETOOBIG). dir NULL (no
 * audit log) finds nothing. ZT_EIO, ZT_ENOMEM. */
struct zt_gdpr_audit_scan {
    const char *pseudonym;  /* NULL: the identity has no salt */
    const char *identity;
    struct json_t *items;   /* NULL: count only */
    size_t n_pseudo, n_clear, bytes, max;
};
ZT_NODISCARD int zt_gdpr_audit_scan(const char *dir, struct zt_gdpr_audit_scan *sc);

/* ---- the retention sweeper ---- */

/* What holds personal data with a retention period (privacy.retention_*),
 * all borrowed and optional (NULL: not swept). */
struct zt_gdpr_holders {
    const char *audit_dir;   /* the audit log's directory (zt_audit.h) */
    struct zt_wallet *wallet; /* login nonces and sessions */
    /* the search messages indexed before before_ms; *n = how many went */
    int (*search_expire)(void *ud, int64_t before_ms, size_t *n);
    void *search_ud;
};

/* What one sweep removed. */
struct zt_gdpr_sweep_stats {
    unsigned audit_files;
    size_t search_docs;
    size_t nonces, sessions;
    size_t temp_files; /* node.data_dir/temp */
    uint64_t runs;     /* sweeps finished since start (zt_gdpr_sweeper_runs) */
};

struct zt_gdpr_sweeper;

/* cfg (read at every sweep) and what h points at must outlive the
 * sweeper. ZT_ENOMEM. */
ZT_NODISCARD int zt_gdpr_sweeper_new(const struct zt_config *cfg, const struct zt_gdpr_holders *h,
                                     struct zt_gdpr_sweeper **out);
/* One sweep at now_ms (unix ms). Errors of one part are logged and the
 * others still run; returns the first error. */
ZT_NODISCARD int zt_gdpr_sweep(struct zt_gdpr_sweeper *g, int64_t now_ms, struct zt_gdpr_sweep_stats *st);
/* Start the thread that sweeps at once and every privacy.sweep_interval_s.
 * ZT_EINVAL when already started, ZT_ENOMEM. */
ZT_NODISCARD int zt_gdpr_sweeper_start(struct zt_gdpr_sweeper *g);
/* Sweeps the thread finished so far. */
uint64_t zt_gdpr_sweeper_runs(struct zt_gdpr_sweeper *g);
/* Stop the thread (waits for a sweep in progress), free. NULL is a no-op. */
void zt_gdpr_sweeper_free(struct zt_gdpr_sweeper *g);

#endif
