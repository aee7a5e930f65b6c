/* zt_ratelimit.h: a token bucket per key (an identity) in a bounded table
 * that evicts the least recently used key (src/net/ratelimit.c). */
#ifndef ZT_RATELIMIT_H
#define ZT_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

struct zt_ratelimit;

/* rps == 0 turns limiting off (take always allows). burst is the bucket's
 * size (at least 1); max_keys bounds the table. ZT_ENOMEM, ZT_EINVAL. */
ZT_NODISCARD int zt_ratelimit_new(double rps, double burst, size_t max_keys,
                                   struct zt_ratelimit **out);
void zt_ratelimit_free(struct zt_ratelimit *rl);
/* Take one token from key's bucket at now_ns (a monotonic clock). Returns
 * true when allowed; otherwise false and *retry_after_s (>= 1) says when
 * the next token will be there. Thread-safe. */
bool zt_ratelimit_take(struct zt_ratelimit *rl, const char *key, uint64_t now_ns,
                        unsigned *retry_after_s);
/* Keys held now (for tests). */
size_t zt_ratelimit_size(struct zt_ratelimit *rl);

#endif
