/* metrics.h: lock-free request counters and latency histograms per route,
 * rendered in the Prometheus text exposition format 0.0.4. Internal to
 * src/server. */
#ifndef ZT_SERVER_METRICS_H
#define ZT_SERVER_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_buf.h"

#define ZT__METRICS_MAX_ROUTES 64
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
/* Append the zentalk_http_* families to out. */
int zt__metrics_render_http(const struct zt__metrics *m, struct zt_buf *out);

#endif
