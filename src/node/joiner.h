/* joiner.h: the worker side of joining orchestrators (internal to
 * src/node; docs/internals/orchestrator.md "The worker side").
 *
 * For each URL of node.join (zentalk-node --join URL) a thread of the
 * joiner: fetches the orchestrator's signed descriptor (GET
 * /v1/node/descriptor; verified: signature, node id derived from its key,
 * expiry), hands it to the trust callback (the node adds it to the peers it
 * accepts signed requests from: the gateway of that orchestrator may now
 * send it sealed jobs), joins with a signed join record (a random boot id
 * per process, a growing sequence number, the worker's own descriptor and
 * capabilities), then sends a signed heartbeat with the load of its runner
 * slots every node.heartbeat_interval_ms. A heartbeat answered 404 (the
 * orchestrator forgot the session: it restarted, or the session expired)
 * joins again at once; a failed join is retried at the next beat. At stop
 * it sends a signed leave record to each orchestrator it joined.
 *
 * Trust: the worker trusts the orchestrator at the URL its operator gave
 * (as it trusts its config); URL#NODE_ID pins the node id the descriptor
 * must have (over plain http, the only defence against a machine in the
 * middle). The descriptor is refetched when half of its lifetime has
 * passed, and at every re-join. */
#ifndef ZT_NODE_JOINER_H
#define ZT_NODE_JOINER_H

#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_error.h"

struct zt_identity;
struct zt_infer;
struct zt__joiner;

/* The orchestrator at join URL index i presents descriptor (verified,
 * len bytes): trust it. Called on the joiner's thread. */
typedef int (*zt__joiner_trust_fn)(void *ud, size_t i, const char *descriptor, size_t len);

/* Check node.join: every entry http(s)://host[:port][#NODE_ID], and the
 * worker role set when there is any. ZT_ECONFIG with one line per problem
 * in err. */
ZT_NODISCARD int zt__joiner_check(const struct zt_config *cfg, struct zt_buf *err);
/* cfg, id and models are borrowed. ZT_ECONFIG (a node.join entry that is
 * not http(s)://host[:port][#NODE_ID]; err says which), ZT_ENOMEM. */
ZT_NODISCARD int zt__joiner_new(const struct zt_config *cfg, const struct zt_identity *id, struct zt_infer *models,
                                zt__joiner_trust_fn trust, void *trust_ud, struct zt__joiner **out,
                                struct zt_buf *err);
/* The orchestrator's join answer names models to fetch from the mesh and
 * serve ("mesh_models": ["sha256:<hex>", ...], its mesh.serve_models):
 * fn(ud, hex) for each, on the joiner's thread (keep it short). Set before
 * zt__joiner_start. */
typedef void (*zt__joiner_models_fn)(void *ud, const char *sha_hex);
void zt__joiner_set_models_hook(struct zt__joiner *j, zt__joiner_models_fn fn, void *ud);
/* The models served changed (zt_infer_register): join again at once the
 * orchestrators joined, with the new descriptor (a join of the same boot
 * replaces the session's descriptor). NULL is a no-op. */
void zt__joiner_refresh(struct zt__joiner *j);
/* A teacher-forced check this worker ran ended: report its signed FINAL
 * checkpoint and receipt (no text) to every orchestrator of node.join
 * (POST /v1/orchestrator/check-report, over the worker's own outbound
 * connection), so the orchestrator that picked it decides the verdict
 * with its answer whatever the gateway reports. Returns at once (a thread
 * posts it); any thread. */
void zt__joiner_check_report(struct zt__joiner *j, const uint8_t *ckpt, size_t ckpt_len, const uint8_t *receipt,
                             size_t receipt_len);
/* Reports dropped so far: at most 2 post at once (their own threads, not
 * the relay's), up to 16 more wait in a queue for them, the rest are
 * logged (check_report_dropped) and counted. */
uint64_t zt__joiner_check_reports_dropped(struct zt__joiner *j);
/* Start joining; endpoint is the URL this worker is reached at (its
 * descriptor's). ZT_EIO. */
ZT_NODISCARD int zt__joiner_start(struct zt__joiner *j, const char *endpoint);
/* The node is stopping: heartbeat at once, and from now on, with every
 * slot busy, so the orchestrators place nothing new here while the jobs
 * in flight finish (the leave comes with zt__joiner_stop). */
void zt__joiner_drain(struct zt__joiner *j);
/* Leave every orchestrator joined (best effort, each leave 2 s at most)
 * and stop the thread, within wait_ms: past it the call in progress is cut
 * and the orchestrators expire the sessions instead. */
void zt__joiner_stop(struct zt__joiner *j, uint64_t wait_ms);
void zt__joiner_free(struct zt__joiner *j);

#endif
