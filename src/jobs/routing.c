/* routing.c: the local-first decision (zt_jobs.h). Today's rule: a model
 * this node serves, no model named (the default model), or no peers at all:
 * here; otherwise the registered worker peer whose signed descriptor lists
 * the model (encryption.remote_worker pins one); with workers joined to
 * this node's orchestrator, its scheduler first. A peer that failed one of
 * this node's jobs lately is picked after every healthy one, first and in
 * a failover (zt_peers_note, fed by route_report). */
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

/* The static peers alone (a peer held by the failure memory only when no
 * other one serves the model: zt_peers_pick). */
static enum zt_route_where decide_static(struct zt_peers *peers, const char *model, bool serves_locally,
                                         const char *pin, int64_t now, struct zt_peer *worker)
{
    if (!model || serves_locally || !peers || zt_peers_count(peers) == 0) return ZT_ROUTE_LOCAL;
    struct zt_peer w;
    if (zt_peers_pick(peers, model, pin, now, &w) != 0) return ZT_ROUTE_NOWHERE;
    if (worker) *worker = w;
    return ZT_ROUTE_REMOTE;
}

enum zt_route_where zt_route_decide(struct zt_peers *peers, const char *model, bool serves_locally, const char *pin,
                                    size_t joined, int64_t now, struct zt_peer *worker, enum zt_route_where *fallback)
{
    enum zt_route_where where = decide_static(peers, model, serves_locally, pin, now, worker);
    if (fallback) *fallback = where == ZT_ROUTE_REMOTE ? ZT_ROUTE_REMOTE : ZT_ROUTE_NOWHERE;
    /* with workers joined to this node's orchestrator, its scheduler places
     * the job; the static peers stay for models no joined worker serves
     * (and a pinned worker is a static peer) */
    if (joined > 0 && model && !serves_locally && (!pin || !pin[0])) return ZT_ROUTE_SCHEDULED;
    return where;
}

/* ---- the static peers as a failover picker ------------------------------- */


#define PICK_SCAN 256 /* peers looked at per pick */

void zt_route_worker(const struct zt_peer *w, const struct zt_peer *relay, struct zt_job_worker *out)
{
    memset(out, 0, sizeof *out);
    zt_strlcpy(out->node_id, w->node_id, sizeof out->node_id);
    memcpy(out->kem_pk, w->kem_pk, sizeof out->kem_pk);
    memcpy(out->sign_pk, w->ed25519_pk, sizeof out->sign_pk);
    const struct zt_peer *to = relay ? relay : w;
    zt_strlcpy(out->base_url, to->endpoint, sizeof out->base_url);
    zt_strlcpy(out->recipient_id, to->node_id, sizeof out->recipient_id);
    out->via_relay = relay != NULL;
}

/* Healthy peers first, then those held by the failure memory (zt_peers_note):
 * a peer that failed a job lately is tried only when no other one is left. */
static int route_pick(void *ud, const char *const *exclude, size_t n, struct zt_job_worker *out)
{
    struct zt_route_picker *rp = ud;
    struct zt_peer *all = zt_calloc(PICK_SCAN, sizeof *all);
    if (!all) return ZT_ENOMEM;
    size_t k = zt_peers_list(rp->peers, all, PICK_SCAN);
    int64_t now = zt_time_real_ms() / 1000;
    int rc = ZT_ENOTFOUND;
    for (int held = 0; held < 2 && rc; held++)
        for (size_t i = 0; i < k && rc; i++) {
            if (rp->pin[0] && strcmp(rp->pin, all[i].node_id) != 0) continue;
            bool skip = zt_peers_held(rp->peers, all[i].node_id, now) != (held == 1);
            for (size_t e = 0; e < n && !skip; e++) skip = strcmp(exclude[e], all[i].node_id) == 0;
            struct zt_peer w;
            /* pinned to this one: a worker listing the model, not expired */
            if (skip || zt_peers_pick(rp->peers, rp->model, all[i].node_id, rp->now, &w) != 0) continue;
            zt_route_worker(&w, rp->has_relay ? &rp->relay : NULL, out);
            rc = 0;
        }
    zt_free(all);
    return rc;
}

static const char *const ATTEMPT_NAMES[] = {"ok", "died", "stalled", "refused", "bad"};

/* Each attempt in the log: which worker did how many of the job's tokens
 * (every id is counted for the one worker that streamed it). */
static void route_report(void *ud, const struct zt_job_worker *w, enum zt_job_attempt a, uint32_t tokens)
{
    struct zt_route_picker *rp = ud;
    zt_log(a == ZT_JOB_ATTEMPT_OK ? ZT_LOG_INFO : ZT_LOG_WARN, "job_attempt", "worker=%s model=%s outcome=%s tokens=%u",
           w->node_id, rp->model, (unsigned)a < 5 ? ATTEMPT_NAMES[a] : "?", (unsigned)tokens);
}

/* The failure memory, which steers the next picks: fed by this node's own
 * attempts alone (an attempt its caller stopped says nothing). */
static void route_health(void *ud, const struct zt_job_worker *w, bool ok)
{
    struct zt_route_picker *rp = ud;
    zt_peers_note(rp->peers, w->node_id, ok, zt_time_real_ms() / 1000);
}

void zt_route_picker_init(struct zt_route_picker *rp, struct zt_peers *peers, const char *model, const char *pin,
                          const struct zt_peer *relay, int64_t now)
{
    memset(rp, 0, sizeof *rp);
    rp->peers = peers;
    zt_strlcpy(rp->model, model ? model : "", sizeof rp->model);
    zt_strlcpy(rp->pin, pin ? pin : "", sizeof rp->pin);
    if (relay) {
        rp->relay = *relay;
        rp->has_relay = true;
    }
    rp->now = now;
    rp->picker = (struct zt_job_picker){.pick = route_pick, .report = route_report, .health = route_health, .ud = rp};
}
