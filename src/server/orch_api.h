/* orch_api.h: the orchestrator role over HTTP (internal to src/server;
 * docs/internals/orchestrator.md "What the node wires").
 *
 * The registry and the scheduler (zt_registry.h, zt_sched.h) are built by
 * the node; this module borrows them and adds what HTTP needs:
 *
 *  - POST /v1/orchestrator/join, /heartbeat, /leave: the body is the
 *    worker's signed record; errors map as ZT_EPERM/ZT_ECRYPTO -> 403,
 *    ZT_EEXIST -> 409, ZT_ETIMEDOUT/ZT_EPARSE/... -> 400, ZT_EBUSY -> 503,
 *    ZT_ENOTFOUND -> 404 ("join again"); joins are rate-limited per client
 *    address (orchestrator.join_rate_per_minute; 429 past it);
 *  - GET /v1/orchestrator/nodes and /jobs (admin): the workers and the
 *    recent jobs, for `zentalk nodes` and `zentalk jobs`;
 *  - the pump: a thread that runs zt_sched_pump once a second and whenever
 *    kicked (a finished job, a join), handing every event to the sink (the
 *    gateway's router, which waits for its jobs' assignments);
 *  - metrics: queue depth, live nodes, placement latency, refusals by
 *    reason. */
#ifndef ZT_SERVER_ORCH_API_H
#define ZT_SERVER_ORCH_API_H

#include <stdint.h>

#include "req.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_registry.h"
#include "zentalk/zt_sched.h"

struct zt__orch;
struct zt_metrics;

/* Called on the pump thread for each event of zt_sched_pump, without a lock
 * of the orchestrator's held. */
typedef void (*zt__orch_event_fn)(void *ud, const struct zt_sched_event *ev);

/* reg and sched are borrowed and must outlive the module. ZT_ENOMEM. */
ZT_NODISCARD int zt__orch_new(const struct zt_config *cfg, struct zt_registry *reg, struct zt_sched *sched,
                              struct zt__orch **out);
/* Where the pump's events go (before zt__orch_start). */
void zt__orch_set_sink(struct zt__orch *o, zt__orch_event_fn fn, void *ud);
/* Start the pump thread. ZT_EIO. */
ZT_NODISCARD int zt__orch_start(struct zt__orch *o);
/* Ask the pump to run now (it coalesces). */
void zt__orch_kick(struct zt__orch *o);
/* Stop the pump thread (no event is delivered after it returns). */
void zt__orch_stop(struct zt__orch *o);
void zt__orch_free(struct zt__orch *o);

struct zt_registry *zt__orch_registry(struct zt__orch *o);
struct zt_sched *zt__orch_sched(struct zt__orch *o);
/* The verifier choice (zt_verifier.h), made by zt__orch_new from
 * orchestrator.verification. */
struct zt_verifier *zt__orch_verifier(struct zt__orch *o);

/* The gateway's submissions, for the metrics: how long zt_sched_submit took
 * and its result (0, ZT_EBUSY, ZT_ENOTFOUND, ...). */
void zt__orch_note_submit(struct zt__orch *o, uint64_t elapsed_ns, int rc);

/* The gateway's placed jobs, for the metrics: one that moved to another
 * worker after its worker failed it (why: "unreachable", "refused",
 * "timeout", "unverified"), and how each ended (done: true when it
 * answered a verified result). */
void zt__orch_note_retry(struct zt__orch *o, const char *why);
void zt__orch_note_end(struct zt__orch *o, bool done);

/* Register zentalk_orchestrator_* (zt_metrics.h). */
ZT_NODISCARD int zt__orch_register_metrics(struct zt__orch *o, struct zt_metrics *m);

void zt__orch_h_join(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__orch_h_heartbeat(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__orch_h_leave(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
/* POST /v1/orchestrator/revoke: a signed revocation (zt_registry_revoke). */
void zt__orch_h_revoke(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
struct zt_dht;
/* The node's DHT (borrowed), which publishes the revocations posted here. */
void zt__orch_set_dht(struct zt__orch *o, struct zt_dht *dht);
void zt__orch_h_nodes(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__orch_h_jobs(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
