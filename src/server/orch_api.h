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
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_orch_client.h"
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
/* For the dispatcher: a path /v1/orchestrator/relay/<node id>/<route>
 * gives "/<route>", *self = (node id is self_id: a request relayed to this
 * worker, to serve as <route> with its signature over the whole path);
 * NULL for any other path. */
const char *zt__orch_relay_route(const char *path, const char *self_id, bool *self);

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

/* ---- the gateway's side of placement (orch_api.c) ----
 * The router places a job through these: the local scheduler and registry
 * (a node with the orchestrator role), or, made by zt__orch_new_remote (a
 * gateway without it and with node.orchestrator), that orchestrator's
 * lease routes (zt_orch_client.h, src/jobs/orch_client.c). own_desc, id:
 * as zt_orch_client_new's (id signs the calls: a job leased by them is
 * this gateway's alone; the next orchestrator on the same store continues
 * it when the first dies). */
ZT_NODISCARD int zt__orch_new_remote(const struct zt_config *cfg, const struct zt_identity *id,
                                     zt_orch_desc_fn own_desc, void *ud, struct zt__orch **out,
                                     struct zt_buf *err);
bool zt__orch_is_remote(const struct zt__orch *o);
ZT_NODISCARD int zt__orch_submit(struct zt__orch *o, const struct zt_job_req *jr, struct zt_sched_result *sr);
bool zt__orch_has_workers(struct zt__orch *o);
void zt__orch_job_cancel(struct zt__orch *o, const char *job_id);
bool zt__orch_job_servable(struct zt__orch *o, const char *job_id);
/* Remote only: wait up to wait_ms for the job's next assignment: 1 (worker
 * set), 0 (not yet), -1 (it failed, or the orchestrator lost it). */
int zt__orch_wait_remote(struct zt__orch *o, const char *job_id, long wait_ms, char worker[static ZT_IDENTITY_ID_SIZE]);
/* A worker as this node knows it: its registry's record (local), or what
 * the remote orchestrator's lease answers said (node id, endpoint, keys,
 * prices; no other caps). ZT_ENOTFOUND. */
ZT_NODISCARD int zt__orch_worker(struct zt__orch *o, const char *worker, struct zt_node_info *ni);
/* The worker's keys and endpoint, and the job started on it. */
ZT_NODISCARD int zt__orch_job_start(struct zt__orch *o, const char *job_id, const char *worker, struct zt_node_info *ni);
/* The attempt went well. Remote: the orchestrator's draw for a check of
 * it (zt_verify_reason_name, "" for none) in verify (the in-process
 * gateway draws in check_job itself: always ""); replicas: the request
 * asked for replicated execution (the lease stays open for its checks). */
void zt__orch_job_ok(struct zt__orch *o, const char *job_id, const char *worker, uint32_t tokens, bool replicas,
                     char *verify, size_t cap);
/* The checks of a job (route_api.c check_job), here or at the remote
 * orchestrator: the checker of round `round` (zt_verifier_pick; worker is
 * the one checked, for its engine build; ckpt its signed FINAL checkpoint,
 * under worker_pk, whose subject names the check: the checker's report is
 * credited by it),
 * a checker that failed, the
 * verdict charged (zt_verifier_settle; verdict "unavailable": no checker
 * found, "none": nothing checked after all). */
ZT_NODISCARD int zt__orch_check_pick(struct zt__orch *o, const char *job_id, const char *model, const char *worker,
                                     const uint8_t *worker_pk, const uint8_t *ckpt, size_t ckpt_len, unsigned round,
                                     const char *const *exclude, size_t n, struct zt_node_info *out);
void zt__orch_check_failed(struct zt__orch *o, const char *job_id, const char *checker, bool stalled);
/* What the checks of a job decided, and the signed evidence for it
 * (struct zt_orch_verdict). A remote orchestrator recomputes the verdict
 * from that evidence and refuses a report it does not prove (zt_lease.h;
 * the report goes on the client's senders, zt_orch_client_verdict, so the
 * caller, and the user's answer, never wait for it: it may wait there for
 * a checker's report); here, in the orchestrator's own process, the
 * verdict is settled as it is. */
void zt__orch_check_settle(struct zt__orch *o, const char *job_id, const struct zt_orch_verdict *cr);
/* The attempt failed (charge: the worker's fault; unreachable: it could not
 * be connected to); the job's state after it. */
enum zt_job_state zt__orch_job_failed(struct zt__orch *o, const char *job_id, const char *worker, bool stalled,
                                      bool charge, bool unreachable);

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
const char *zt__orch_relay_split(const char *path, const char *self_id, bool *self);
/* POST /v1/orchestrator/revoke: a signed revocation (zt_registry_revoke). */
void zt__orch_h_revoke(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
struct zt_dht;
/* The node's DHT (borrowed), which publishes the revocations posted here. */
void zt__orch_set_dht(struct zt__orch *o, struct zt_dht *dht);
void zt__orch_h_nodes(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__orch_h_jobs(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
