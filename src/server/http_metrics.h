/* http_metrics.h: lock-free request counters and latency histograms per
 * route (internal to src/server), registered with the node's metrics
 * registry (zt_metrics.h) as the zentalk_http_* families. */
#ifndef ZT_SERVER_HTTP_METRICS_H
#define ZT_SERVER_HTTP_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_metrics.h"

#define ZT__METRICS_MAX_ROUTES 80
#define ZT__METRICS_BUCKETS 15 /* finite bounds; +Inf is implicit */

struct zt__route_metrics {
    const char *label;
    atomic_uint_fast64_t by_status[500]; /* index: status - 100 */
    atomic_uint_fast64_t aborted;        /* client left before a response */
    atomic_uint_fast64_t buckets[ZT__METRICS_BUCKETS + 1];
    atomic_uint_fast64_t sum_ns;
    atomic_uint_fast64_t count;
};

struct zt__metrics {
    struct zt__route_metrics routes[ZT__METRICS_MAX_ROUTES];
    size_t n_routes;
};

/* Register labels in order; the last registered should be the catch-all. */
int zt__metrics_add_route(struct zt__metrics *m, const char *label);
/* Record one finished request; label NULL or unknown counts as `fallback`. */
void zt__metrics_observe(struct zt__metrics *m, const char *label, const char *fallback,
                         int status, uint64_t duration_ns);
/* Register the zentalk_http_* families (m must outlive the registry's
 * last render). Errors of zt_metrics_add_fn(). */
ZT_NODISCARD int zt__metrics_register_http(struct zt__metrics *m, struct zt_metrics *reg);

#endif
