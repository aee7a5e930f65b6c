/* http_metrics.c: HTTP metrics. Counters are relaxed atomics: a scrape may see a
 * request in the count before it is in the histogram sum, which Prometheus
 * tolerates; nothing here takes a lock on the request path. */
#include "http_metrics.h"

#include <stdio.h>
#include <string.h>

#include "zentalk/zt_str.h"

/* Upper bounds in seconds, as printed in the le label. */
static const double bucket_bounds[ZT__METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

int zt__metrics_add_route(struct zt__metrics *m, const char *label)
{
    if (m->n_routes >= ZT__METRICS_MAX_ROUTES) return ZT_ETOOBIG;
    m->routes[m->n_routes++].label = label;
    return 0;
}

static struct zt__route_metrics *find(struct zt__metrics *m, const char *label)
{
    if (!label) return NULL;
    for (size_t i = 0; i < m->n_routes; i++)
        if (m->routes[i].label == label || zt_str_eq(m->routes[i].label, label))
            return &m->routes[i];
    return NULL;
}

void zt__metrics_observe(struct zt__metrics *m, const char *label, const char *fallback,
                         int status, uint64_t duration_ns)
{
    struct zt__route_metrics *r = find(m, label);
    if (!r) r = find(m, fallback);
    if (!r) return;
    if (status >= 100 && status <= 599)
        atomic_fetch_add_explicit(&r->by_status[status - 100], 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&r->aborted, 1, memory_order_relaxed);
    double secs = (double)duration_ns / 1e9;
    size_t b = 0;
    while (b < ZT__METRICS_BUCKETS && secs > bucket_bounds[b]) b++;
    atomic_fetch_add_explicit(&r->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->sum_ns, duration_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
}

static int render_requests(void *ud, struct zt_metrics_out *o)
{
    const struct zt__metrics *m = ud;
    int rc = 0;
    for (size_t i = 0; i < m->n_routes && !rc; i++) {
        const struct zt__route_metrics *r = &m->routes[i];
        for (int s = 0; s < 500 && !rc; s++) {
            uint64_t v = atomic_load_explicit(&r->by_status[s], memory_order_relaxed);
            if (v) rc = zt_metrics_emitf_u64(o, NULL, v, "route=\"%s\",status=\"%d\"", r->label, s + 100);
        }
    }
    return rc;
}

static int render_aborted(void *ud, struct zt_metrics_out *o)
{
    const struct zt__metrics *m = ud;
    int rc = 0;
    for (size_t i = 0; i < m->n_routes && !rc; i++) {
        uint64_t v = atomic_load_explicit(&m->routes[i].aborted, memory_order_relaxed);
        if (v) rc = zt_metrics_emitf_u64(o, NULL, v, "route=\"%s\"", m->routes[i].label);
    }
    return rc;
}

static int render_duration(void *ud, struct zt_metrics_out *o)
{
    const struct zt__metrics *m = ud;
    int rc = 0;
    char labels[192];
    for (size_t i = 0; i < m->n_routes && !rc; i++) {
        const struct zt__route_metrics *r = &m->routes[i];
        uint64_t count = atomic_load_explicit(&r->count, memory_order_relaxed);
        if (!count) continue;
        uint64_t cum = 0;
        for (size_t b = 0; b <= ZT__METRICS_BUCKETS && !rc; b++) {
            cum += atomic_load_explicit(&r->buckets[b], memory_order_relaxed);
            rc = b < ZT__METRICS_BUCKETS
                     ? zt_metrics_emitf_u64(o, "_bucket", cum, "route=\"%s\",le=\"%g\"", r->label, bucket_bounds[b])
                     : zt_metrics_emitf_u64(o, "_bucket", cum, "route=\"%s\",le=\"+Inf\"", r->label);
        }
        snprintf(labels, sizeof labels, "route=\"%s\"", r->label);
        double sum = (double)atomic_load_explicit(&r->sum_ns, memory_order_relaxed) / 1e9;
        if (!rc) rc = zt_metrics_emit(o, "_sum", labels, sum);
        /* _count must equal the +Inf bucket within one scrape */
        if (!rc) rc = zt_metrics_emit_u64(o, "_count", labels, cum);
    }
    return rc;
}

int zt__metrics_register_http(struct zt__metrics *m, struct zt_metrics *reg)
{
    static const struct zt_metrics_fam fams[] = {
        {"zentalk_http_requests_total", "HTTP requests answered, by route and status.", ZT_METRIC_COUNTER,
         render_requests},
        {"zentalk_http_requests_aborted_total", "Requests whose client left before the response.", ZT_METRIC_COUNTER,
         render_aborted},
        {"zentalk_http_request_duration_seconds", "Time from request headers to response completion.",
         ZT_METRIC_HISTOGRAM, render_duration},
    };
    return zt_metrics_add_fns(reg, fams, sizeof fams / sizeof fams[0], m);
}
