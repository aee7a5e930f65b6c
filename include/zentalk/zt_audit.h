/* zt_audit.h: the append-only, hash-chained, signed audit log.
 *
 * Files DIR/audit-NNNNNN.jsonl (0600, DIR 0700), one JSON object per line,
 * never content: who (identity, role), what (route, method, feature, job
 * id, request id), the PII types touched, the decision, the status and the
 * outcome. Every line carries
 *   "seq"   1, 2, 3... across all files,
 *   "prev"  hex SHA-256 of the previous line's bytes (without its newline);
 *           64 zeros for seq 1,
 * and every N entries or T seconds, at rotation (the first line of every
 * new file) and on close, a "checkpoint" line whose "sig" is the node's
 * Ed25519 signature over "zentalk-audit-checkpoint-v1\n<seq>\n<prev>\n":
 * since prev commits to every line before it, a valid checkpoint vouches
 * for the whole chain up to it. Format: docs/internals/audit.md.
 *
 * Crash safety: a line is built in memory and written with one write() of
 * the whole line; fsync per privacy.audit_fsync. On open the newest file's
 * tail is read: a torn last line (a crash mid-write) is cut off, and the
 * chain continues after the last complete entry with a "start" entry that
 * records the bytes dropped. All functions are thread-safe (one mutex). */
#ifndef ZT_AUDIT_H
#define ZT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"
#include "zt_identity.h"

#define ZT_AUDIT_LINE_MAX 4096       /* longest line written or accepted */
#define ZT_AUDIT_FIELD_MAX 160       /* longer strings are cut */
#define ZT_AUDIT_FILE_MAX ((size_t)1 << 30) /* verify reads files up to this */

enum zt_audit_fsync {
    ZT_AUDIT_FSYNC_ALWAYS = 0,     /* fdatasync after every entry */
    ZT_AUDIT_FSYNC_CHECKPOINT = 1, /* at checkpoints, rotation and close */
    ZT_AUDIT_FSYNC_NEVER = 2,      /* the kernel decides */
};

struct zt_audit_opts {
    const char *dir;                 /* created 0700 if missing */
    const struct zt_identity *id;    /* signs checkpoints; must outlive the log */
    uint64_t max_bytes;              /* rotate above this (>= 4096) */
    uint64_t checkpoint_entries;     /* >= 1 */
    uint64_t checkpoint_ms;          /* >= 1 */
    enum zt_audit_fsync fsync;
    int64_t retention_days;          /* zt_audit_sweep() at open and hourly; 0 = keep all */
};

/* One event. Every field may be NULL / 0 (left out of the line). */
struct zt_audit_event {
    const char *identity, *role;
    const char *subject;      /* whom the request was about, when not the caller (GDPR erase) */
    const char *route, *method, *feature, *job_id, *request_id;
    const char *const *pii;   /* PII type names */
    size_t n_pii;
    const char *decision;     /* local | remote | pseudonymised | refused | none */
    int status;               /* HTTP status, 0 = none */
    const char *outcome;      /* ok | error | denied | ... */
    /* A disclosure (kind "disclosure"; NULL: "request"): the extra
     * workers that saw the user's text of job_id, and why (verification,
     * arbitration, replica). */
    const char *kind;
    const char *const *nodes; /* node ids */
    size_t n_nodes;
    const char *reason;
};

struct zt_audit;

/* Open (or continue) the log in opts->dir; writes a "start" entry. Reasons
 * go to err. ZT_EIO (errno kept), ZT_EPARSE (the last complete entry of the
 * newest file is not a valid entry: the chain cannot be continued; run
 * `zentalk audit verify`), ZT_EINVAL, ZT_ENOMEM. */
ZT_NODISCARD int zt_audit_open(const struct zt_audit_opts *opts, struct zt_audit **out, struct zt_buf *err);
/* Append one entry (and a checkpoint when one is due). ZT_EIO, ZT_ENOMEM;
 * after an I/O error the file is cut back to the last complete entry. */
ZT_NODISCARD int zt_audit_record(struct zt_audit *a, const struct zt_audit_event *ev);
/* Write a checkpoint now. */
ZT_NODISCARD int zt_audit_checkpoint(struct zt_audit *a);
/* The seq of the last entry written. */
uint64_t zt_audit_seq(struct zt_audit *a);
/* Final checkpoint, fsync, close. NULL is a no-op. */
void zt_audit_close(struct zt_audit *a);

/* Retention: delete the rotated files of dir (never the newest) whose last
 * change is more than days old at now_s; *removed counts them (may be
 * NULL). Every file starts with a signed checkpoint, so what remains still
 * verifies. days 0 keeps everything. ZT_EIO. */
ZT_NODISCARD int zt_audit_sweep(const char *dir, int64_t days, int64_t now_s, unsigned *removed);

/* ---- verification ---------------------------------------------------- */

struct zt_audit_report {
    uint64_t entries;           /* complete lines read */
    uint64_t problems;          /* each one has a line in the text report */
    uint64_t first_seq, last_seq;
    bool truncated_tail;        /* a file ends in a torn line */
    bool starts_at_checkpoint;  /* earlier files were removed by retention */
    uint64_t checkpoint_seq;    /* last checkpoint with a valid signature, 0 = none */
    char checkpoint_file[256];
    uint64_t checkpoint_line;
    bool checkpoint_clean;      /* no problem before it */
    /* The entries after the last valid checkpoint: chained, not signed. */
    uint64_t unsigned_entries;
    uint64_t unsigned_first_seq;
    int64_t unsigned_first_ts_ms; /* its "ts", ms since the epoch (0: unreadable) */
    char unsigned_file[256];
    uint64_t unsigned_line;
};

/* Check files (in order: oldest first) against the node's public key pk.
 * Each problem is one line "FILE:LINE: seq S: what" appended to out (may be
 * NULL); a summary is left in rep. Returns 0 when the chain is intact,
 * ZT_ECRYPTO when a problem was found, ZT_EIO / ZT_ETOOBIG / ZT_ENOMEM when
 * a file could not be read. */
ZT_NODISCARD int zt_audit_verify(const char *const *files, size_t n,
                                 const uint8_t pk[static ZT_ED25519_PK_LEN],
                                 struct zt_audit_report *rep, struct zt_buf *out);

/* After zt_audit_verify(): the entries not covered by a signed checkpoint
 * must be within the checkpoint interval the node runs with (max_entries
 * privacy.audit_checkpoint_entries, max_age_ms its _seconds; a node signs
 * its tail within that time, and on the next open after a crash). 0 when
 * they are; ZT_ECRYPTO, with one line "FILE:LINE: seq S: entries A..B ...
 * are not covered by a signed checkpoint ..." appended to out (may be
 * NULL), when more than max_entries + 1 of them exist or the oldest is
 * older than max_age_ms + ZT_AUDIT_SIGN_GRACE_MS at now_ms (real time):
 * a crash not followed by a restart, or entries rewritten after the last
 * signature, which the chain alone cannot tell from genuine ones. */
#define ZT_AUDIT_SIGN_GRACE_MS 1000
ZT_NODISCARD int zt_audit_check_signed(const struct zt_audit_report *rep, uint64_t max_entries, uint64_t max_age_ms,
                                       int64_t now_ms, struct zt_buf *out);

#endif
