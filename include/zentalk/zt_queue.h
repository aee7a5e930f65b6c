/* zt_queue.h: the orchestrators' shared job queue (issue 11 item 7;
 * docs/internals/orchestrator.md "Shared queue").
 *
 * A queue carries job ids (and a small opaque body: metadata, never a
 * prompt) from whoever accepts a job to whichever orchestrator runs it.
 * Two backends behind one API:
 * - "memory": in-process, for one machine (the default; the scheduler's
 *   own DRR queue stays what orders work there).
 * - "redis": a Redis Stream with one consumer group shared by every
 *   orchestrator (database.queue: redis, database.redis_url). An entry is
 *   delivered to one consumer (XREADGROUP), stays pending until that
 *   consumer acknowledges it on completion (XACK, then XDEL), and an entry
 *   pending longer than claim_idle_ms (its orchestrator died or stalled)
 *   is claimed by the next consumer that asks (XAUTOCLAIM). A restarted
 *   orchestrator with the same consumer name first gets back its own
 *   pending entries.
 *
 * Delivery is at least once: a claimed entry may have been half-worked by
 * the consumer that lost it, and a slow (not dead) consumer may still
 * finish. Exactly-once *completion* is the job row's state transition in
 * the shared store (an UPDATE ... WHERE state = ... that only one
 * orchestrator can win; zt_sched's persisted job states): a consumer that
 * loses the transition acknowledges and drops the entry.
 *
 * A dropped connection fails the call that meets it (ZT_EIO); the next
 * call reconnects (AUTH, SELECT and the group again), and a group that
 * vanished (a Redis restarted without persistence) is made again. The
 * process should ignore SIGPIPE (the node does).
 *
 * Threads: a handle serialises its calls with a mutex; several handles
 * (one per orchestrator process, or per thread) share one Redis stream.
 * Errors: ZT_EINVAL, ZT_ENOMEM, ZT_EIO (Redis unreachable or an error
 * reply; logged without the URL's password), ZT_ENOTFOUND (nothing to
 * take, or no such entry), ZT_EBUSY (memory queue full). */
#ifndef ZT_QUEUE_H
#define ZT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

#define ZT_QUEUE_ID_MAX 48   /* an entry id: Redis "<ms>-<seq>", NUL included */
#define ZT_QUEUE_KEY_MAX 128 /* job ids, stream, group and consumer names */
#define ZT_QUEUE_BODY_MAX 65536

struct zt_queue;
struct zt_config;
struct zt_buf;

struct zt_queue_opts {
    const char *backend;    /* "memory" (NULL too) or "redis" */
    const char *url;        /* redis: redis://[:password@]host[:port][/db] */
    const char *stream;     /* redis key; NULL = "zentalk:jobs" */
    const char *group;      /* consumer group; NULL = "orchestrators" */
    const char *consumer;   /* this orchestrator's name (its node id); required for redis */
    int64_t claim_idle_ms;  /* claim others' entries pending this long; 0 = 30000 */
    size_t max_len;         /* memory: refuse past it (ZT_EBUSY); 0 = 100000 */
    int64_t timeout_ms;     /* redis connect/command timeout; 0 = 5000 */
};

/* One delivered entry (owned by the caller until zt_queue_msg_clear). */
struct zt_queue_msg {
    char id[ZT_QUEUE_ID_MAX];
    char job_id[ZT_QUEUE_KEY_MAX];
    uint8_t *body; /* zt_malloc'd, may be NULL when len 0 */
    size_t len;
    int64_t deliveries; /* 1 on first delivery; more when claimed after a stall */
    char from[ZT_QUEUE_KEY_MAX]; /* claimed: the consumer it was taken from; else "" */
};

ZT_NODISCARD int zt_queue_open(const struct zt_queue_opts *o, struct zt_queue **out);
/* database.queue and database.redis_url of cfg, consumer = this node's
 * name; claim_idle_ms from database.queue_claim_ms. A line saying why
 * goes to errs (may be NULL) on failure. */
ZT_NODISCARD int zt_queue_open_config(const struct zt_config *cfg, const char *consumer, struct zt_queue **out,
                                      struct zt_buf *errs);
/* NULL is a no-op. Entries taken and not acknowledged stay pending (a
 * Redis queue: claimable by the others after claim_idle_ms). */
void zt_queue_free(struct zt_queue *q);
const char *zt_queue_backend(const struct zt_queue *q);
/* Entries pending longer than this are claimed by others (ms). */
int64_t zt_queue_claim_idle_ms(const struct zt_queue *q);

/* Append a job (job_id: 1..ZT_QUEUE_KEY_MAX-1 bytes; body up to
 * ZT_QUEUE_BODY_MAX, may be NULL); its entry id in id_out (may be NULL). */
ZT_NODISCARD int zt_queue_push(struct zt_queue *q, const char *job_id, const void *body, size_t len,
                               char id_out[ZT_QUEUE_ID_MAX]);
/* Append a job already taken by this consumer (pending here from its
 * first moment: no other consumer can read it first). An orchestrator
 * pushes each job it accepts this way and renews it while it runs it;
 * when it dies, the others claim its entries after claim_idle_ms. */
ZT_NODISCARD int zt_queue_push_own(struct zt_queue *q, const char *job_id, const void *body, size_t len,
                                   char id_out[ZT_QUEUE_ID_MAX]);
/* Reset the idle time of these entries pending here (XCLAIM ... JUSTID
 * with min-idle 0), so that nobody claims them while this consumer is
 * alive. Ids no longer pending (acknowledged) are ignored. */
ZT_NODISCARD int zt_queue_renew(struct zt_queue *q, const char *const *ids, size_t n);
/* The next entry for this consumer: its own pending entries after a
 * restart first, then one pending elsewhere longer than claim_idle_ms
 * (claimed: m->from says from whom), then a new one, waiting up to
 * block_ms (0: no wait). ZT_ENOTFOUND when there is none. */
ZT_NODISCARD int zt_queue_take(struct zt_queue *q, int64_t block_ms, struct zt_queue_msg *m);
/* Acknowledge (done with it, whatever the outcome) and delete the entry.
 * ZT_ENOTFOUND when it was not pending (acknowledged already). */
ZT_NODISCARD int zt_queue_ack(struct zt_queue *q, const char *id);
/* Entries in the queue (not yet acknowledged), and of those the ones
 * delivered and pending. */
ZT_NODISCARD int zt_queue_depth(struct zt_queue *q, size_t *entries, size_t *pending);
void zt_queue_msg_clear(struct zt_queue_msg *m);

#endif
