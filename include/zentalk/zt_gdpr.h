/* zt_gdpr.h: GDPR in the privacy layer (docs/privacy/DATA_HANDLING.md):
 * the request schema of POST /v1/privacy/{export,erase}, matching audit
 * log entries to an identity, the retention sweeper (src/privacy/gdpr.c),
 * and the export and erase themselves over every holder of personal data
 * (src/privacy/gdpr_svc.c). The routes (parsing, who may act on whom,
 * statuses and wording) are src/server/gdpr_api.c. */
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

/* ---- export (GDPR art. 15/20) and erase (art. 17) ---- */

#define ZT_GDPR_EXPORT_MAX ((size_t)16 << 20) /* bytes of content (messages, audit entries) in one export */
#define ZT_GDPR_SESSIONS_MAX 1024             /* wallet sessions listed per identity */
#define ZT_GDPR_EXPORT_FORMAT "zentalk-privacy-export-v1"

/* A holder of personal data the privacy layer cannot reach by itself (the
 * search store in src/features, the ledger in src/ledger: modules above
 * it), registered by the node. Both callbacks are required. */
struct zt_gdpr_provider {
    const char *name; /* its part of an export: data.<name> (or not_kept.<name>) */
    const char *what; /* what it holds, for an error message ("the search messages") */
    /* Its records survive an erase (the ledger's payments): its part comes
     * after the audit log's in an export, and its erase, which only says
     * what is kept, runs after the audit salt is gone. Otherwise its erase
     * runs first, before the privacy layer's own steps. */
    bool keeps;
    /* The identity's data as a JSON object in *out; or *out NULL and *why
     * (static text): nothing is kept, the reason goes to not_kept.<name>.
     * budget: the bytes of content the export may still take; *used: what
     * this part took; ZT_ETOOBIG past the budget. Any error fails the
     * export. */
    int (*export_fn)(void *ud, const char *identity, size_t budget, size_t *used, struct json_t **out,
                     const char **why);
    /* Erase the identity's data: counts of what went into erased, what
     * stays and why into kept (JSON objects, keys of its own). An error
     * stops the erase there: no later holder and none of the privacy
     * layer's steps run. */
    int (*erase_fn)(void *ud, const char *identity, struct json_t *erased, struct json_t *kept);
    void *ud;
};

struct zt_privacy_layer;
struct zt_gdpr;

/* What the service works over; all borrowed and outliving it. */
struct zt_gdpr_opts {
    const char *node_id;
    struct zt_privacy_layer *pv; /* the audit log and pseudonym salts */
    struct zt_wallet *wallet;    /* the sessions (crypto's: privacy may call it) */
    const struct zt_gdpr_provider *providers; /* copied, in order */
    size_t n_providers;
    size_t export_max; /* bytes of content in one export; 0: ZT_GDPR_EXPORT_MAX */
};
/* ZT_EINVAL (no node_id, pv or wallet, a provider without a name, what or
 * callbacks), ZT_ENOMEM. */
ZT_NODISCARD int zt_gdpr_new(const struct zt_gdpr_opts *o, struct zt_gdpr **out);
/* The export's byte budget (for the answer that refuses a larger one). */
size_t zt_gdpr_export_max(const struct zt_gdpr *g);
void zt_gdpr_free(struct zt_gdpr *g); /* NULL is a no-op */

/* The export of what this node holds about identity, as
 * {format, identity, node_id, generated_at, generated_at_ms, data,
 * not_kept}: data.sessions (a wallet identity's live sessions: creation
 * and expiry, never tokens), then each holder that does not keep its
 * records, data.audit_entries (the audit entries about it: by its
 * pseudonym while the salt exists, by clear identity for entries written
 * before pseudonyms), then each holder that keeps them; not_kept: the
 * holders with nothing kept, then the jobs, caches and databases, each
 * with the reason. At most zt_gdpr_export_max() bytes of content in all
 * (the holders' in order, then the audit entries). ZT_ETOOBIG past it,
 * ZT_ENOMEM, ZT_EIO (the audit log), or a holder's error. */
ZT_NODISCARD int zt_gdpr_export(struct zt_gdpr *g, const char *identity, struct json_t **out);

/* The erase's own audit entry, written by the caller (the route's request
 * entry): pseudonym is the identity's while its salt still exists (NULL
 * when it has none). Called once, before the salt is destroyed; a failure
 * is the caller's to log and does not stop the erase. */
typedef void (*zt_gdpr_audit_fn)(void *ud, const char *pseudonym);

/* Where an erase stopped. */
enum zt_gdpr_stop {
    ZT_GDPR_STOP_NONE = 0,
    ZT_GDPR_STOP_HOLDER, /* a holder's erase failed: it and everything after it were not erased */
    ZT_GDPR_STOP_SALT,   /* everything was erased but the pseudonym salt could not be destroyed (retry) */
    ZT_GDPR_STOP_KEPT,   /* everything was erased and the salt destroyed (erased says what), but a holder
                          * that keeps its records failed to state what it keeps (retry) */
};
struct zt_gdpr_erase_fail {
    enum zt_gdpr_stop at;
    const char *what; /* ZT_GDPR_STOP_HOLDER, _KEPT: the holder's what */
    bool first;       /* ZT_GDPR_STOP_HOLDER: it was the first, so nothing at all was erased */
    char erased[256]; /* ZT_GDPR_STOP_KEPT: what was erased, as a list for a message ("the search
                       * messages, 2 wallet sessions and the audit pseudonym salt") */
};

/* Erase identity, in this order: each holder that does not keep its
 * records (in registration order; the first failure stops everything);
 * the identity's wallet sessions and nonces revoked; the audit log
 * scanned for entries about it; audit(audit_ud, pseudonym), the erase's
 * own entry, while the salt still exists; the pseudonym salt destroyed,
 * so no audit entry can be tied to the identity any more; then the
 * keeping holders say what stays. Idempotent. The answer:
 * {identity, erased: {<holders'>, sessions_revoked, audit_salt_destroyed,
 * audit_entries_unlinked}, kept: {audit_entries_with_clear_identity,
 * audit_scan_error, audit, <holders'>}}. On an error *fail says where it
 * stopped; ZT_ENOMEM. */
ZT_NODISCARD int zt_gdpr_erase(struct zt_gdpr *g, const char *identity, zt_gdpr_audit_fn audit, void *audit_ud,
                               struct json_t **out, struct zt_gdpr_erase_fail *fail);

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
