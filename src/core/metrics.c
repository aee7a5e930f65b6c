/* metrics.c: the metrics registry. See zt_metrics.h.
 *
 * A fixed array of families under a mutex: registration is rare (start-up)
 * and a scrape takes the mutex only to walk the array; the values are
 * read by the families' own callbacks or relaxed atomic loads, so a
 * scrape never blocks the request path. */
#include "zentalk/zt_metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"

struct family {
    const char *name, *help;
    enum zt_metric_type type;
    zt_metrics_fn fn;
    void *ud;
    size_t index; /* zt_metrics_out_index() */
    const atomic_uint_fast64_t *u64;
    bool part; /* more samples of an earlier family of this name (zt_metrics_add_part) */
};

struct zt_metrics {
    pthread_mutex_t mu;
    struct family fam[ZT_METRICS_MAX];
    size_t n;
};

struct zt_metrics_out {
    struct zt_buf *b;
    const char *name;
    size_t index;
};

static const char *type_name(enum zt_metric_type t)
{
    switch (t) {
    case ZT_METRIC_COUNTER: return "counter";
    case ZT_METRIC_GAUGE: return "gauge";
    case ZT_METRIC_HISTOGRAM: return "histogram";
    }
    return NULL;
}

static bool name_ok(const char *s)
{
    if (!s || !s[0] || (s[0] >= '0' && s[0] <= '9')) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == ':'))
            return false;
    return true;
}

int zt_metrics_new(struct zt_metrics **out)
{
    struct zt_metrics *m = zt_calloc(1, sizeof *m);
    if (!m) return ZT_ENOMEM;
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return 0;
}

void zt_metrics_free(struct zt_metrics *m)
{
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    zt_free(m);
}

static int add(struct zt_metrics *m, const struct family *f)
{
    if (!name_ok(f->name) || !f->help || !type_name(f->type) || strchr(f->help, '\n')) return ZT_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n && !rc; i++)
        if (strcmp(m->fam[i].name, f->name) == 0) rc = ZT_EEXIST; /* parts: zt_metrics_add_part */
    if (!rc && m->n >= ZT_METRICS_MAX) rc = ZT_ETOOBIG;
    if (!rc) m->fam[m->n++] = *f;
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int zt_metrics_add_fn(struct zt_metrics *m, const char *name, const char *help, enum zt_metric_type type,
                      zt_metrics_fn fn, void *ud)
{
    if (!fn) return ZT_EINVAL;
    return add(m, &(struct family){.name = name, .help = help, .type = type, .fn = fn, .ud = ud});
}

int zt_metrics_add_part(struct zt_metrics *m, const char *name, enum zt_metric_type type, zt_metrics_fn fn,
                        void *ud)
{
    if (!m || !name || !fn) return ZT_EINVAL;
    int rc = ZT_ENOTFOUND;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n && rc == ZT_ENOTFOUND; i++)
        if (!m->fam[i].part && strcmp(m->fam[i].name, name) == 0) {
            rc = m->fam[i].type == type ? 0 : ZT_EINVAL;
            if (!rc && m->n >= ZT_METRICS_MAX) rc = ZT_ETOOBIG;
            if (!rc)
                m->fam[m->n++] = (struct family){.name = m->fam[i].name, .help = m->fam[i].help, .type = type,
                                                 .fn = fn, .ud = ud, .part = true};
        }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int zt_metrics_add_u64(struct zt_metrics *m, const char *name, const char *help, enum zt_metric_type type,
                       const atomic_uint_fast64_t *v)
{
    if (!v || type == ZT_METRIC_HISTOGRAM) return ZT_EINVAL;
    return add(m, &(struct family){.name = name, .help = help, .type = type, .u64 = v});
}

static int emit_head(struct zt_metrics_out *o, const char *suffix, const char *labels)
{
    int rc = zt_buf_append_str(o->b, o->name);
    if (!rc && suffix) rc = zt_buf_append_str(o->b, suffix);
    if (!rc && labels && labels[0]) rc = zt_buf_appendf(o->b, "{%s}", labels);
    return rc;
}

int zt_metrics_emit(struct zt_metrics_out *o, const char *suffix, const char *labels, double value)
{
    int rc = emit_head(o, suffix, labels);
    return rc ? rc : zt_buf_appendf(o->b, " %.9f\n", value);
}

int zt_metrics_emit_u64(struct zt_metrics_out *o, const char *suffix, const char *labels, uint64_t value)
{
    int rc = emit_head(o, suffix, labels);
    return rc ? rc : zt_buf_appendf(o->b, " %llu\n", (unsigned long long)value);
}

int zt_metrics_add_fns(struct zt_metrics *m, const struct zt_metrics_fam *fams, size_t n, void *ud)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = fams[i].fn ? add(m, &(struct family){.name = fams[i].name, .help = fams[i].help, .type = fams[i].type,
                                                  .fn = fams[i].fn, .ud = ud, .index = i})
                        : ZT_EINVAL;
    return rc;
}

size_t zt_metrics_out_index(const struct zt_metrics_out *o) { return o->index; }

int zt_metrics_emitf_u64(struct zt_metrics_out *o, const char *suffix, uint64_t value, const char *fmt, ...)
{
    char l[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l, sizeof l, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof l) return ZT_ETOOBIG;
    return zt_metrics_emit_u64(o, suffix, l, value);
}

int zt_metrics_emit_each(struct zt_metrics_out *o, const char *label, const char *const *names,
                         const atomic_uint_fast64_t *v, size_t n)
{
    int rc = 0;
    char l[128];
    for (size_t i = 0; i < n && !rc; i++) {
        int k = snprintf(l, sizeof l, "%s=\"%s\"", label, names[i]);
        if (k < 0 || (size_t)k >= sizeof l) return ZT_ETOOBIG;
        rc = zt_metrics_emit_u64(o, NULL, l, atomic_load_explicit(&v[i], memory_order_relaxed));
    }
    return rc;
}

int zt_metrics_render(struct zt_metrics *m, struct zt_buf *out)
{
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n && !rc; i++) {
        const struct family *f = &m->fam[i];
        if (f->part) continue; /* rendered with its family */
        rc = zt_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, type_name(f->type));
        struct zt_metrics_out o = {.b = out, .name = f->name, .index = f->index};
        if (!rc && f->fn) rc = f->fn(f->ud, &o);
        else if (!rc) rc = zt_metrics_emit_u64(&o, NULL, NULL, atomic_load_explicit(f->u64, memory_order_relaxed));
        for (size_t j = i + 1; j < m->n && !rc; j++) /* the other modules' parts of it */
            if (m->fam[j].part && m->fam[j].name == f->name) {
                o.index = 0;
                rc = m->fam[j].fn(m->fam[j].ud, &o);
            }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

size_t zt_metrics_count(struct zt_metrics *m)
{
    size_t n = 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n; i++) n += !m->fam[i].part; /* families, not their parts */
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* ---- the process's own families ---------------------------------------------- */

long zt_process_rss_bytes(void)
{
    /* "size resident shared text lib data dt", in pages */
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    char line[256];
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!got) return -1;
    char *rss = strchr(line, ' ');
    if (!rss) return -1;
    rss[strcspn(rss + 1, " \n") + 1] = '\0';
    int64_t pages = 0;
    long page = sysconf(_SC_PAGESIZE);
    if (zt_str_to_i64(rss + 1, &pages) != 0 || pages < 0 || page <= 0) return -1;
    return (long)pages * page;
}

static int m_rss(void *ud, struct zt_metrics_out *o)
{
    (void)ud;
    long rss = zt_process_rss_bytes();
    return rss >= 0 ? zt_metrics_emit_u64(o, NULL, NULL, (uint64_t)rss) : 0;
}

int zt_metrics_register_process(struct zt_metrics *m)
{
    return zt_metrics_add_fn(m, "process_resident_memory_bytes", "Resident memory size in bytes.", ZT_METRIC_GAUGE,
                             m_rss, NULL);
}
