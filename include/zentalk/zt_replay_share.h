/* zt_replay_share.h: per-caller shares of the worker's sealed-job replay
 * cache (src/jobs; the worker side of sealed jobs, sealed_worker.c, uses it;
 * issue 17 item 1).
 *
 * The replay cache (zt_envelope.h) holds every unexpired job id and refuses
 * new ones when full rather than forget one. Without shares one caller can
 * fill it and every other caller's jobs are refused until the ids expire.
 * This table counts, per caller, the ids it has recorded that may still be
 * live, and refuses a caller over its share before its id is recorded:
 *   - an anonymous caller (no verified identity) is keyed by its client
 *     address (an IPv6 /64; the forwarded address behind a trusted proxy)
 *     and may hold cap/64 ids; all anonymous callers together cap/2;
 *   - an admitted caller (a signed peer node, an authenticated user) is
 *     keyed by its identity and may hold cap/8; the half that anonymous
 *     callers cannot take stays for admitted ones.
 * Counts are kept in time buckets of ttl/8 seconds by expiry, so an id is
 * counted until the end of its expiry's bucket (a little longer than it is
 * held: the count errs on the side of the cache). The table of callers is
 * bounded; when it is full of callers with live ids, an anonymous
 * newcomer is refused and an admitted one is let through uncounted.
 * Thread-safe. */
#ifndef ZT_REPLAY_SHARE_H
#define ZT_REPLAY_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

struct zt_replay_share;

/* cap: the replay cache's capacity (ids); ttl_s: the longest lifetime of an
 * envelope the worker accepts. ZT_EINVAL, ZT_ENOMEM. */
ZT_NODISCARD int zt_replay_share_new(size_t cap, uint64_t ttl_s, struct zt_replay_share **out);
void zt_replay_share_free(struct zt_replay_share *s);

/* Count one more id of caller (identity when admitted, else the client
 * address), valid until expires, if it is within its share at now: 0, or
 * ZT_EBUSY (it, or the anonymous callers together, hold their share) with
 * *retry_s the seconds until some of its ids are no longer counted. Check
 * and count are one step, so concurrent requests cannot pass it together. */
ZT_NODISCARD int zt_replay_share_take(struct zt_replay_share *s, const char *caller, bool admitted, uint64_t now,
                                       uint64_t expires, unsigned *retry_s);

/* Undo a take whose id was not recorded after all (a replay, a full cache). */
void zt_replay_share_undo(struct zt_replay_share *s, const char *caller, bool admitted, uint64_t expires);

#endif
