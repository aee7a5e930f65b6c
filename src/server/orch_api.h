/* orch_api.h: the orchestrator role over HTTP (internal to src/server;
 * docs/internals/orchestrator.md "What the node wires").
 *
 * The registry, the scheduler and the role are built by the node; this
 * module borrows them and adds what HTTP needs:
 *
 *  - POST /v1/orchestrator/join, /heartbeat, /leave: the body is the
 *    worker's signed record; errors map as ZT_EPERM/ZT_ECRYPTO -> 403,
 *    ZT_EEXIST -> 409, ZT_ETIMEDOUT/ZT_EPARSE/... -> 400, ZT_EBUSY -> 503,
 *    ZT_ENOTFOUND -> 404 ("join again"); joins are rate-limited per client
 *    address (orchestrator.join_rate_per_minute; 429 past it);
 *  - GET /v1/orchestrator/nodes and /jobs (admin): the workers and the
 *    recent jobs, for `zentalk nodes` and `zentalk jobs`;
 *  - metrics: refusals by reason, records accepted by kind.
 *
 * The role object (zt_orch_role.h, src/orchestrator/orch_role.c: the
 * verifier, the NAT relay, the lease table, the pump, the gateway's
 * placement) is built by the node and lent here. */
#ifndef ZT_SERVER_ORCH_API_H
#define ZT_SERVER_ORCH_API_H

#include <stdint.h>

#include "req.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_orch_client.h"
#include "zentalk/zt_registry.h"
#include "zentalk/zt_sched.h"

struct zt__orch;
struct zt_metrics;
struct zt_orch_role;

/* The HTTP side of role (zt_orch_role.h; borrowed, outlives the module):
 * its routes' refusal counters and the two per-address rate limiters.
 * ZT_ENOMEM. */
ZT_NODISCARD int zt__orch_new(struct zt_orch_role *role, struct zt__orch **out);
void zt__orch_free(struct zt__orch *o);

/* Register zentalk_orchestrator_refusals_total (the routes' own, the
 * lease table's and the placement's refusals) and _records_total
 * (zt_metrics.h). The role's parts register theirs. */
ZT_NODISCARD int zt__orch_register_metrics(struct zt__orch *o, struct zt_metrics *m);

/* POST /v1/orchestrator/join, heartbeat, leave and poll (a signed
 * record; ud: the orchestrator, cx->arg which one). */
enum { ZT__ORCH_JOIN, ZT__ORCH_HEARTBEAT, ZT__ORCH_LEAVE, ZT__ORCH_POLL };
void zt__orch_h_record(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
/* Workers behind NAT (orch_relay.c): POST /v1/orchestrator/poll (a signed
 * heartbeat record; ?hold_ms=N: held until a request for the worker comes
 * or N ms pass, at most 25 s), POST /v1/orchestrator/relay/<node id>/...
 * (a gateway's request for that worker, handed to its poll; the answer is
 * streamed back as the worker sends it), POST
 * /v1/orchestrator/relay-result/<relay id> (a piece of the answer, in
 * order: Zentalk-Relay-Seq, -Status and -Type on the first, -End: 1 on the
 * last). */
/* The relay routes' user data: the orchestrator's NAT relay (NULL when o
 * is NULL or a remote orchestrator's: the routes then answer 404). */
struct zt_nat_relay;
struct zt_nat_relay *zt__orch_nat_relay(struct zt__orch *o);

/* Placement for a gateway in another process (the lease table of
 * zt_lease.h, src/orchestrator/lease.c; role admin):
 * POST /v1/orchestrator/lease {"model","max_tokens",["client","ctx_tokens",
 * "price_ceiling","deadline_ms","wait_ms"]} places a job and answers 200
 * {"job_id","state":"assigned","worker":{"node_id","endpoint","kem_pk",
 * "ed25519_pk"}} (waiting up to wait_ms for a slot, else 202 queued: ask
 * again with "job_id"); {"job_id"} waits for the job's next assignment.
 * POST /v1/orchestrator/report {"job_id","worker","event":"started|ok|
 * error|stalled|unreachable|cancel","tokens"}. The handlers pass the
 * request's signature headers, method, target, raw body and client
 * address explicitly (struct zt_lease_call), park a waiting call on a
 * deferred connection, and render the table's struct zt_lease_res. */
void zt__orch_h_lease(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__orch_h_report(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
/* POST /v1/orchestrator/check-report: a checker's signed answer to a check
 * it was picked for (its FINAL checkpoint and receipt; no text). */
void zt__orch_h_check_report(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

/* A gateway's signature over its lease and report calls: zt_nodeauth.h's
 * request signature (to the orchestrator's node id) under these header
 * names (ZT_NODEAUTH_GW_H_*, what zt_orch_client signs with). */
#define ZT__GW_H_NODE ZT_NODEAUTH_GW_H_NODE
#define ZT__GW_H_DATE ZT_NODEAUTH_GW_H_DATE
#define ZT__GW_H_NONCE ZT_NODEAUTH_GW_H_NONCE
#define ZT__GW_H_SIG ZT_NODEAUTH_GW_H_SIG

/* ---- orch_relay.c (internal to the orchestrator's HTTP side): the
 * routes over the relay of zt_nat_relay.h (src/orchestrator/relay.c) ---- */
struct zt_nat_relay;
struct zt_http_req;
/* POST /v1/orchestrator/poll after its heartbeat record was accepted:
 * answered now, or parked (the relay answers it later). */
void zt__orch_relay_poll(struct zt_nat_relay *r, struct zt_http_req *req, struct zt_http_resp *resp,
                         const char *node_id, int64_t hold_ms);
/* POST /v1/orchestrator/relay/... and relay-result/... (ud: the NAT
 * relay, zt__orch_nat_relay; NULL answers 404 not_an_orchestrator). */
void zt__orch_relay_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__orch_relay_result_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
/* For the dispatcher (and the relay routes): a path
 * /v1/orchestrator/relay/<node id>/<route> gives "/<route>", *self =
 * (node id is self_id: a request relayed to this worker, to serve as
 * <route> with its signature over the whole path); NULL for any other
 * path. */
const char *zt__orch_relay_split(const char *path, const char *self_id, bool *self);
/* POST /v1/orchestrator/revoke: a signed revocation (zt_registry_revoke). */
void zt__orch_h_revoke(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__orch_h_nodes(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__orch_h_jobs(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
