/* zt_metrics.h: the node's metrics registry, rendered in the Prometheus
 * text exposition format 0.0.4 (GET /metrics).
 *
 * Each subsystem registers its own families when it is built (name, help,
 * type, and where the values come from: an atomic counter it owns, or a
 * callback that emits the samples of the family); /metrics renders the
 * registry and knows nothing of any subsystem's counters.
 *
 * Threads: registration happens while the node is built (a mutex guards
 * it anyway); zt_metrics_render() may run on any thread at any time after.
 * Lifetimes: whatever a family points at (the atomic, the callback's ud)
 * must outlive the last render; the node stops serving /metrics before it
 * frees its subsystems, and frees the registry last.
 * Errors: ZT_EINVAL (a bad name or type), ZT_ETOOBIG (ZT_METRICS_MAX
 * families), ZT_EEXIST (the name is taken), ZT_ENOMEM. */
#ifndef ZT_METRICS_H
#define ZT_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"

#define ZT_METRICS_MAX 128 /* families in one registry */

enum zt_metric_type {
    ZT_METRIC_COUNTER,
    ZT_METRIC_GAUGE,
    ZT_METRIC_HISTOGRAM,
};

struct zt_metrics;

/* Where a callback writes its family's samples; valid during the call. */
struct zt_metrics_out;

/* Emit one sample of the family being rendered: "<name><suffix>{<labels>}
 * <value>". suffix: NULL, or "_bucket" / "_sum" / "_count" for histograms;
 * labels: NULL or preformatted label pairs (key="value",...), which the
 * caller escapes. Returns 0 or ZT_ETOOBIG/ZT_ENOMEM (the output is full). */
ZT_NODISCARD int zt_metrics_emit(struct zt_metrics_out *o, const char *suffix, const char *labels, double value);
/* The same for an integer value (printed exactly). */
ZT_NODISCARD int zt_metrics_emit_u64(struct zt_metrics_out *o, const char *suffix, const char *labels,
                                     uint64_t value);

/* zt_metrics_emit_u64 with the labels formatted from fmt (printf; the
 * caller escapes what it formats in). ZT_ETOOBIG for labels over 255
 * bytes. */
ZT_NODISCARD int zt_metrics_emitf_u64(struct zt_metrics_out *o, const char *suffix, uint64_t value, const char *fmt,
                                      ...) ZT_PRINTF(4, 5);

/* One sample per i < n: labelled label="names[i]" (names: plain label
 * values, not escaped), the value of v[i]. ZT_ETOOBIG for a label over
 * 127 bytes. */
ZT_NODISCARD int zt_metrics_emit_each(struct zt_metrics_out *o, const char *label, const char *const *names,
                                      const atomic_uint_fast64_t *v, size_t n);

/* A family's samples, written with zt_metrics_emit*(); return 0, or the
 * first error of an emit. A family that emits nothing is still listed
 * (HELP and TYPE). */
typedef int (*zt_metrics_fn)(void *ud, struct zt_metrics_out *o);

ZT_NODISCARD int zt_metrics_new(struct zt_metrics **out);
/* NULL is a no-op. */
void zt_metrics_free(struct zt_metrics *m);

/* Register a family rendered by fn(ud, ...). name: [a-zA-Z_:][a-zA-Z0-9_:]*;
 * name and help are borrowed (string literals, as a rule). */
ZT_NODISCARD int zt_metrics_add_fn(struct zt_metrics *m, const char *name, const char *help,
                                   enum zt_metric_type type, zt_metrics_fn fn, void *ud);
/* A family rendered by a callback, for registering several from a table. */
struct zt_metrics_fam {
    const char *name, *help;
    enum zt_metric_type type;
    zt_metrics_fn fn;
};
/* zt_metrics_add_fn for each of fams[0..n), all with ud; the first error. */
ZT_NODISCARD int zt_metrics_add_fns(struct zt_metrics *m, const struct zt_metrics_fam *fams, size_t n, void *ud);
/* The index in its zt_metrics_add_fns() table of the family being rendered
 * (0 for one added by zt_metrics_add_fn): one callback can serve several
 * families of a table. */
size_t zt_metrics_out_index(const struct zt_metrics_out *o);
/* More samples of a family another module registered (name, already
 * there, of this type): fn(ud, ...) is rendered after the family's own
 * samples, under its HELP and TYPE, so each module counts and renders its
 * own part of a shared family (e.g. the orchestrator's refusals by
 * reason: the routes', the lease table's, the placement's). ZT_ENOTFOUND
 * no such family yet (register the owner's first); ZT_EINVAL another
 * type. */
ZT_NODISCARD int zt_metrics_add_part(struct zt_metrics *m, const char *name, enum zt_metric_type type,
                                     zt_metrics_fn fn, void *ud);
/* Register a family of one unlabelled sample read from *v (relaxed). */
ZT_NODISCARD int zt_metrics_add_u64(struct zt_metrics *m, const char *name, const char *help,
                                    enum zt_metric_type type, const atomic_uint_fast64_t *v);

/* Append every family, in registration order, to out. 0, or the first
 * error (ZT_ETOOBIG when out's maximum is reached, ZT_ENOMEM). */
ZT_NODISCARD int zt_metrics_render(struct zt_metrics *m, struct zt_buf *out);
/* Families registered. */
size_t zt_metrics_count(struct zt_metrics *m);

/* ---- the process's own families ---------------------------------------------- */

/* The process's resident memory in bytes, from /proc/self/statm; -1 where
 * it cannot be read (no /proc). */
long zt_process_rss_bytes(void);
/* Register process_resident_memory_bytes (a gauge, read at each scrape;
 * no sample where /proc cannot be read). */
ZT_NODISCARD int zt_metrics_register_process(struct zt_metrics *m);

#endif
