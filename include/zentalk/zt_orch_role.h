/* zt_orch_role.h: the orchestrator role as one object (src/orchestrator/
 * orch_role.c, place.c). See docs/internals/orchestrator.md "What the node
 * wires".
 *
 * The node builds the registry and the scheduler (zt_registry.h,
 * zt_sched.h) and hands them to zt_orch_role_new, which builds and owns
 * what the role adds to them:
 *
 *  - the verifier (zt_verifier.h), from orchestrator.verification;
 *  - the NAT relay (zt_nat_relay.h), whose poll answers carry the leasing
 *    gateways;
 *  - the lease table (zt_lease.h): placement for gateways in other
 *    processes;
 *  - the pump: a thread that runs zt_sched_pump once a second and whenever
 *    kicked (a finished job, a join), hands each event to the lease table
 *    (a leased job) or else to the sink (this node's gateway job runner),
 *    and sweeps the relay and the lease table; zt_orch_role_stop ends it
 *    with a final sweep of both (their parked calls answer).
 *
 * A gateway whose orchestrator runs in another process (node.orchestrator)
 * gets a remote role instead (zt_orch_role_new_remote): it owns the orch
 * client (zt_orch_client.h) and nothing else; it has no pump.
 *
 * Either kind is the gateway's placement (zt_orch_role_place): it fills
 * struct zt_gw_place (zt_gwjob.h) for the gateway's job runner: submit,
 * cancel, servable, wait, the worker's keys, the start, how each attempt
 * went (the unreachable-worker rule), the checks (a pick only for a FINAL
 * checkpoint verified under the worker's key, a failed checker charged,
 * the verdict settled), against the local scheduler and registry or the
 * remote orchestrator's lease routes.
 *
 * The HTTP routes (src/server/orch_api.c, orch_relay.c) borrow the role and
 * its parts. Threads: every call may come from any thread; the sink runs
 * on the pump thread with no lock of the role held. */
#ifndef ZT_ORCH_ROLE_H
#define ZT_ORCH_ROLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_config.h"
#include "zt_error.h"
#include "zt_orch_client.h"
#include "zt_registry.h"
#include "zt_sched.h"

struct zt_orch_role;
struct zt_verifier;
struct zt_nat_relay;
struct zt_lease;
struct zt_gw_place;

/* Called on the pump thread for each event of zt_sched_pump that is not a
 * leased job's, with no lock of the role held. */
typedef void (*zt_orch_event_fn)(void *ud, const struct zt_sched_event *ev);

/* A local orchestrator over reg and sched (borrowed; they must outlive the
 * role). ZT_ENOMEM. */
ZT_NODISCARD int zt_orch_role_new(const struct zt_config *cfg, struct zt_registry *reg, struct zt_sched *sched,
                                  struct zt_orch_role **out);
/* A gateway's orchestrator in another process (cfg->node.orchestrator,
 * node.orchestrator_token): own_desc, ud and id as zt_orch_client_new's
 * (id signs the calls: a job leased by them is this gateway's alone).
 * ZT_E* with err written. */
ZT_NODISCARD int zt_orch_role_new_remote(const struct zt_config *cfg, const struct zt_identity *id,
                                         zt_orch_desc_fn own_desc, void *ud, struct zt_orch_role **out,
                                         struct zt_buf *err);
/* Where the pump's events go (before zt_orch_role_start). */
void zt_orch_role_set_sink(struct zt_orch_role *o, zt_orch_event_fn fn, void *ud);
/* Start the pump thread (a remote role registers this gateway with its
 * orchestrator instead). NULL is a no-op. ZT_EIO. */
ZT_NODISCARD int zt_orch_role_start(struct zt_orch_role *o);
/* Ask the pump to run now (it coalesces). NULL is a no-op. */
void zt_orch_role_kick(struct zt_orch_role *o);
/* Stop the pump (no event is delivered after it returns), then sweep the
 * relay and the lease table once more: parked polls, relays and lease
 * calls answer. NULL is a no-op. */
void zt_orch_role_stop(struct zt_orch_role *o);
/* Stops it first. NULL is a no-op. */
void zt_orch_role_free(struct zt_orch_role *o);

bool zt_orch_role_is_remote(const struct zt_orch_role *o);
/* The parts (borrowed; NULL for a remote role, and for a NULL role). */
const struct zt_config *zt_orch_role_config(const struct zt_orch_role *o);
struct zt_registry *zt_orch_role_registry(const struct zt_orch_role *o);
struct zt_sched *zt_orch_role_sched(const struct zt_orch_role *o);
struct zt_verifier *zt_orch_role_verifier(const struct zt_orch_role *o);
struct zt_nat_relay *zt_orch_role_relay(const struct zt_orch_role *o);
struct zt_lease *zt_orch_role_lease(const struct zt_orch_role *o);

/* ---- the gateway's placement (place.c) ---- */

/* The runner's scheduler interface over this role (ud = o; o outlives the
 * runner's use of it). Its note_* hooks are left NULL: the runner counts
 * its placements itself (zt_gw_runner_register_metrics). */
void zt_orch_role_place(struct zt_orch_role *o, struct zt_gw_place *out);
/* The workers a scheduled placement may reach: a local orchestrator's
 * live workers; a remote one says itself (1: ask it). 0: none. */
size_t zt_orch_role_workers(struct zt_orch_role *o);
/* The pump's sink: this gateway's job runner (borrowed, outlives the
 * pump; before zt_orch_role_start). Assignments and failures go to the
 * jobs waiting in it (zt_gw_runner_event); an assignment nobody there
 * waits for (its client went, or it outlived a restart of this node) is
 * cancelled to free the worker's slot; requeues are not told (the job's
 * thread learns it when its call fails). */
struct zt_gw_runner;
void zt_orch_role_set_runner(struct zt_orch_role *o, struct zt_gw_runner *run);

/* Submissions the placement refused (the refusals metric's queue_full and
 * no_worker). */
struct zt_orch_role_counts {
    uint64_t queue_full, no_worker;
};
void zt_orch_role_counts(struct zt_orch_role *o, struct zt_orch_role_counts *out);
/* The role's parts of zentalk_orchestrator_refusals_total (registered
 * first by the orchestrator's routes): its lease table's
 * (zt_lease_register_metrics) and the placement's queue_full and
 * no_worker. A local role only. */
struct zt_metrics;
ZT_NODISCARD int zt_orch_role_register_metrics(struct zt_orch_role *o, struct zt_metrics *m);

/* The DHT that revocations posted here are published to (borrowed, it
 * outlives the role; NULL: none). Thread-safe. */
struct zt_dht;
void zt_orch_role_set_dht(struct zt_orch_role *o, struct zt_dht *dht);
/* A signed revocation (zt_dht.h's record, signed by the key it revokes):
 * verified, honoured by the registry, published to the DHT when there is
 * one (*published), and the queue placed again. 0 (*v filled);
 * ZT_ECRYPTO / ZT_EINVAL not such a record (forged, malformed); ZT_EBUSY
 * the registry remembers too many revocations. A local role only. */
struct zt_dht_revocation;
ZT_NODISCARD int zt_orch_role_revoke(struct zt_orch_role *o, const char *rec, size_t len,
                                     struct zt_dht_revocation *v, bool *published);

#endif
