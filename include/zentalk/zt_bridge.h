/* zt_bridge.h: the API bridge to the messenger's API server (src/bridge/;
 * docs/internals/bridge.md): signed webhooks for job completions and
 * payouts, delivered at least once from an outbox kept in the store.
 *
 * An event is written to the outbox table (owner "webhooks") first, under
 * an idempotency key derived from what happened ("job.completed:<job id>"),
 * so writing the same event twice keeps one row, and a restart loses
 * nothing. A delivery thread posts due rows to integration.api_url +
 * integration.webhook_path through the one outbound HTTP client (src/net:
 * no redirects, capped answers, timeouts), signed:
 *
 *   Content-Type: application/json
 *   Idempotency-Key: <key>            the same on every attempt: receivers dedupe by it
 *   Zentalk-Event: <type>
 *   Zentalk-Signature: t=<unix s>,v1=<hex HMAC-SHA256(webhook_secret, "<t>.<body>")>
 *
 * A 2xx answer delivers it; 410 Gone fails it at once; anything else
 * (another status, a refused redirect, a timeout, a connection error, an
 * answer over 64 KiB) is retried with exponential backoff and jitter
 * (webhook_retry_base_ms x 2^attempt, at most one hour) until
 * webhook_max_attempts, then it is "failed" (kept; `zentalk webhooks
 * list` shows it). Body: {"id": key, "type": type, "created": unix ms,
 * "data": {...}}; no prompt, message or answer text is ever in it.
 *
 * Threads: every function may be called from any thread. */
#ifndef ZT_BRIDGE_H
#define ZT_BRIDGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_error.h"

struct zt_store;
struct zt_config;
struct zt_metrics;

#define ZT_BRIDGE_KEY_MAX 160
#define ZT_BRIDGE_BODY_MAX ((size_t)64 << 10)

/* ---- the outbox (any process with the store: node, CLI) ---------------- */

/* Create or upgrade the outbox table (owner "webhooks"). */
ZT_NODISCARD int zt_bridge_migrate(struct zt_store *st);
/* Write an event: type ("job.completed", "payout.settled", ...), key (its
 * idempotency key, at most ZT_BRIDGE_KEY_MAX bytes), data (an object;
 * borrowed). *added false when the key was there already (nothing
 * written). ZT_EINVAL, ZT_ETOOBIG (body over ZT_BRIDGE_BODY_MAX), ZT_EIO. */
ZT_NODISCARD int zt_bridge_enqueue(struct zt_store *st, const char *type, const char *key, json_t *data,
                                   int64_t now_ms, bool *added);

enum zt_bridge_state { ZT_BRIDGE_PENDING = 0, ZT_BRIDGE_DELIVERED = 1, ZT_BRIDGE_FAILED = 2 };
const char *zt_bridge_state_name(int state);

struct zt_bridge_row {
    char key[ZT_BRIDGE_KEY_MAX + 1];
    char type[64];
    int state;
    int64_t attempts, created_ms, next_ms, last_status;
    char last_error[160];
};
/* Rows in state (or every state when state < 0), oldest first, at most
 * limit; cb's nonzero return stops (and is returned). */
typedef int (*zt_bridge_row_cb)(void *ud, const struct zt_bridge_row *row);
ZT_NODISCARD int zt_bridge_list(struct zt_store *st, int state, size_t limit, zt_bridge_row_cb cb, void *ud);
/* Counts per state. */
ZT_NODISCARD int zt_bridge_counts(struct zt_store *st, int64_t out[3]);

/* The signature header's value for timestamp t and body (what receivers
 * recompute): "t=<t>,v1=<64 hex>". out: at least 96 bytes. */
void zt_bridge_sign(const char *secret, int64_t t, const void *body, size_t len, char *out, size_t cap);
/* Check a signature header against secret and body, and that t is within
 * tolerance_s of now (0: not checked). 0 or ZT_ECRYPTO. */
ZT_NODISCARD int zt_bridge_verify(const char *secret, const char *header, const void *body, size_t len,
                                  int64_t now_s, int64_t tolerance_s);

/* ---- the delivery (the node) ------------------------------------------------ */

struct zt_bridge;
/* Off (*out NULL, 0) unless integration.api_url and webhook_secret are
 * both set. Opens its own store handle (database.*), migrates, starts the
 * delivery thread. ZT_ECONFIG (a URL the client refuses), ZT_EIO, ZT_ENOMEM;
 * a line saying why goes to err. */
struct zt_buf;
ZT_NODISCARD int zt_bridge_new(const struct zt_config *cfg, struct zt_bridge **out, struct zt_buf *err);
/* Stops the thread (an attempt in flight is cancelled; its row stays
 * pending) and frees. NULL: no-op. */
void zt_bridge_free(struct zt_bridge *b);
/* zt_bridge_enqueue on the bridge's store, and wake the thread. b NULL:
 * no-op (0). Errors are logged by the caller's choice. */
ZT_NODISCARD int zt_bridge_emit(struct zt_bridge *b, const char *type, const char *key, json_t *data);
/* zentalk_webhooks_total{result=delivered|failed|retried} and
 * zentalk_webhooks_pending (b NULL, webhooks off: the same families, 0). */
ZT_NODISCARD int zt_bridge_register_metrics(struct zt_bridge *b, struct zt_metrics *m);

/* ---- the gateway's job events (src/bridge/events.c) ---------------------- */

/* job.completed: a job ended (no text: the counts and where it ran).
 * outcome "ok", "cache", or why it failed ("ok" false); user NULL or ""
 * (anonymous): "user" is null. The data object (the caller's; NULL when
 * job_id is NULL or empty, or out of memory) and its idempotency key
 * "job.completed:<job id>" in key. */
struct zt_ledger_prices;
json_t *zt_bridge_job_completed_data(const char *job_id, const char *user, const char *model, const char *worker,
                                     const char *outcome, uint32_t prompt_tokens, uint32_t completion_tokens,
                                     uint64_t duration_ms, char key[static ZT_BRIDGE_KEY_MAX + 1]);
/* payout.settled: what the worker earned for the job at prices p, in base
 * units as decimal text ("amount", and the fee kept, "fee"); key
 * "payout.settled:<job id>". NULL also when the cost cannot be computed. */
json_t *zt_bridge_payout_settled_data(const struct zt_ledger_prices *p, const char *job_id, const char *user,
                                      const char *worker, uint32_t prompt_tokens, uint32_t completion_tokens,
                                      char key[static ZT_BRIDGE_KEY_MAX + 1]);
/* The two above, emitted (zt_bridge_emit; a failure is logged there). b
 * NULL, or no data: no-op. */
void zt_bridge_job_completed(struct zt_bridge *b, const char *job_id, const char *user, const char *model,
                             const char *worker, const char *outcome, uint32_t prompt_tokens,
                             uint32_t completion_tokens, uint64_t duration_ms);
void zt_bridge_payout_settled(struct zt_bridge *b, const struct zt_ledger_prices *p, const char *job_id,
                              const char *user, const char *worker, uint32_t prompt_tokens,
                              uint32_t completion_tokens);

#endif
