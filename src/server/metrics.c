/* metrics.c: HTTP metrics. Counters are relaxed atomics: a scrape may see a
 * request in the count before it is in the histogram sum, which Prometheus
 * tolerates; nothing here takes a lock on the request path. */
#include <string.h>

#include "metrics.h"
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

#define TRY(x)                                                                        \
    do {                                                                              \
        int rc_ = (x);                                                                \
        if (rc_) return rc_;                                                          \
    } while (0)

int zt__metrics_render_http(const struct zt__metrics *m, struct zt_buf *out)
{
    TRY(zt_buf_append_str(out,
                          "# HELP zentalk_http_requests_total HTTP requests answered, by route and status.\n"
                          "# TYPE zentalk_http_requests_total counter\n"));
    for (size_t i = 0; i < m->n_routes; i++) {
        const struct zt__route_metrics *r = &m->routes[i];
        for (int s = 0; s < 500; s++) {
            uint64_t v = atomic_load_explicit(&r->by_status[s], memory_order_relaxed);
            if (v)
                TRY(zt_buf_appendf(out, "zentalk_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                                   r->label, s + 100, (unsigned long long)v));
        }
    }
    TRY(zt_buf_append_str(out,
                          "# HELP zentalk_http_requests_aborted_total Requests whose client left before the response.\n"
                          "# TYPE zentalk_http_requests_aborted_total counter\n"));
    for (size_t i = 0; i < m->n_routes; i++) {
        uint64_t v = atomic_load_explicit(&m->routes[i].aborted, memory_order_relaxed);
        if (v)
            TRY(zt_buf_appendf(out, "zentalk_http_requests_aborted_total{route=\"%s\"} %llu\n",
                               m->routes[i].label, (unsigned long long)v));
    }
    TRY(zt_buf_append_str(out,
                          "# HELP zentalk_http_request_duration_seconds Time from request headers to response completion.\n"
                          "# TYPE zentalk_http_request_duration_seconds histogram\n"));
    for (size_t i = 0; i < m->n_routes; i++) {
        const struct zt__route_metrics *r = &m->routes[i];
        uint64_t count = atomic_load_explicit(&r->count, memory_order_relaxed);
        if (!count) continue;
        uint64_t cum = 0;
        for (size_t b = 0; b <= ZT__METRICS_BUCKETS; b++) {
            cum += atomic_load_explicit(&r->buckets[b], memory_order_relaxed);
            if (b < ZT__METRICS_BUCKETS)
                TRY(zt_buf_appendf(out,
                                   "zentalk_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                                   r->label, bucket_bounds[b], (unsigned long long)cum));
            else
                TRY(zt_buf_appendf(out,
                                   "zentalk_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                                   r->label, (unsigned long long)cum));
        }
        double sum = (double)atomic_load_explicit(&r->sum_ns, memory_order_relaxed) / 1e9;
        TRY(zt_buf_appendf(out, "zentalk_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n",
                           r->label, sum));
        /* _count must equal the +Inf bucket within one scrape */
        TRY(zt_buf_appendf(out, "zentalk_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                           r->label, (unsigned long long)cum));
    }
    return 0;
}
