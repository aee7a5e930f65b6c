/* route_api.h: local-first routing of LLM requests, the HTTP side (internal to
 * src/server). The decision, the privacy gate, the sealed-job client, the
 * job pool and the gateway's job runner are src/jobs's and src/privacy's
 * (zt_jobs.h, zt_gwjob.h, zt_privacy.h); see docs/internals/route.md and
 * jobs.md.
 *
 * POST /v1/completions and /v1/chat/completions for a model this node
 * serves (models.yaml, worker role) run here, as before. For any other
 * model the request is sealed to a registered worker peer whose signed
 * descriptor lists the model (zt_peers_pick; encryption.remote_worker pins
 * one), after the privacy decision for the feature ("completion" or
 * "chat"): local_only refuses (403), pseudonymise replaces the PII by
 * typed pseudonyms (<EMAIL_1>...) before sealing and puts the values back into the
 * answer as it streams, allow sends it as it is. The job goes to the
 * worker's POST /v1/jobs/sealed signed as this node (zt_nodeauth.h), or
 * through the relay peer of encryption.relay, on a thread of its own; the
 * sealed result is opened chunk by chunk and answered in the OpenAI shapes
 * of local jobs (JSON, or Server-Sent Events for stream:true) once the
 * final chunk and the worker's receipt verify. */
#ifndef ZT_SERVER_ROUTE_API_H
#define ZT_SERVER_ROUTE_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "zentalk/zt_infer.h"
#include "privacy_api.h"
#include "req.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_peers.h"

struct zt__route;

#define ZT__ROUTE_BUFFER_MAX ((size_t)1 << 20) /* SSE bytes queued for a slow client */
#define ZT__ROUTE_PEERS_MAX 64                 /* peers counted by id in /v1/status */

/* cfg, ms, peers, pv and run (the gateway's job runner, zt_gwjob.h,
 * built by the node with its scheduler and books) must outlive the router.
 * ZT_ECONFIG (a remote_worker or relay that is not a node id; logged),
 * ZT_ENOMEM. */
struct zt_gw_runner;
ZT_NODISCARD int zt__route_new(const struct zt_config *cfg, struct zt_infer *ms, struct zt_peers *peers,
                               struct zt_privacy_layer *pv, struct zt_gw_runner *run, struct zt__route **out);
/* The identity of this node (before the first request; without one
 * remote jobs answer 503; the runner signs with its own copy). */
void zt__route_set_identity(struct zt__route *r, const struct zt_identity *id);
/* The orchestrator of this node (zt_orch_role.h; NULL: none): with
 * workers joined (zt_route_decide), each remote job is submitted to its
 * scheduler through the runner, waits for a worker, is sealed to the
 * worker assigned and reported to the scheduler (started, finished or
 * failed; a worker that fails before anything reached the client is
 * charged and the job goes to the next worker the scheduler picks). */
struct zt_orch_role;
void zt__route_set_orch(struct zt__route *r, struct zt_orch_role *o);
/* chain.enabled: the books (NULL: none), for the result cache's billing;
 * the runner settles the scheduled jobs with its own copy. */
struct zt_chain;
void zt__route_set_chain(struct zt__route *r, struct zt_chain *c);
/* The gateway's result cache (zt_rcache.h; NULL: none): remote answers the
 * privacy policy lets it keep are stored, and the same job asked again by
 * the same scope is answered from it (cache_api.h). */
struct zt_rcache;
void zt__route_set_cache(struct zt__route *r, struct zt_rcache *c);
/* The runner is not freed (the node's). */
void zt__route_free(struct zt__route *r);

/* For POST /v1/completions (chat false) and /v1/chat/completions: true
 * when the request was answered here (remote job started, or an error in
 * resp: 404 no one serves the model, 403 local_only, 400, 503); false when
 * it should run locally (zt__llm_generate), counted as a local job. */
bool zt__route_generate(struct zt__route *r, struct zt__req_ctx *cx, json_t *body, bool chat,
                        struct zt_http_resp *resp);

/* POST /v1/completions (cx->arg 0) and /v1/chat/completions (cx->arg 1)
 * (ud: the router): zt__route_generate, and the local path
 * (zt__llm_generate) when it answers false. */
void zt__route_h_generate(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

struct zt__route_stats {
    uint64_t local;         /* requests handed to the local path (zt__llm_generate) */
    uint64_t remote;        /* remote jobs answered with a verified result */
    uint64_t remote_failed; /* remote jobs that failed (unreachable, refused, unverified) */
    uint64_t refused;       /* refused by the privacy policy (local_only) */
    unsigned inflight;
};
void zt__route_stats(struct zt__route *r, struct zt__route_stats *out);
/* {"zt1...": {"ok": n, "failed": m}, ...} for the peers that ran jobs
 * (new reference, or NULL when out of memory). */
json_t *zt__route_peer_counts(struct zt__route *r);
/* Register the zentalk_jobs_total and zentalk_jobs_refused_total families
 * (zt_metrics.h; the runner registers its own). */
struct zt_metrics;
ZT_NODISCARD int zt__route_register_metrics(struct zt__route *r, struct zt_metrics *m);

#endif
