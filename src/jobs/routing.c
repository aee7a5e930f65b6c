/* routing.c: the local-first decision (zt_jobs.h). Today's rule: a model
 * this node serves, no model named (the default model), or no peers at all:
 * here; otherwise the registered worker peer whose signed descriptor lists
 * the model (encryption.remote_worker pins one). The network's scheduler
 * takes this place later. */
#include "zentalk/zt_jobs.h"

enum zt_route_where zt_route_decide(struct zt_peers *peers, const char *model, bool serves_locally, const char *pin,
                                    int64_t now, struct zt_peer *worker)
{
    if (!model || serves_locally || !peers || zt_peers_count(peers) == 0) return ZT_ROUTE_LOCAL;
    struct zt_peer w;
    if (zt_peers_pick(peers, model, pin, now, &w) != 0) return ZT_ROUTE_NOWHERE;
    if (worker) *worker = w;
    return ZT_ROUTE_REMOTE;
}
