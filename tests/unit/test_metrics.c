/* test_metrics.c: the metrics registry (src/core/metrics.c): families
 * rendered in registration order with HELP and TYPE, callbacks and atomic
 * counters, labels and histogram suffixes, registering from a table
 * (zt_metrics_add_fns) with one callback told which entry it renders
 * (zt_metrics_out_index), labels formatted (zt_metrics_emitf_u64), one
 * sample per name (zt_metrics_emit_each), name
 * checks, duplicates, the size limit, a full output buffer, allocation
 * failure, no leaks. */
#include "zt_test.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_metrics.h"

struct relay_like {
    uint64_t ok, failed;
};

static int render_outcomes(void *ud, struct zt_metrics_out *o)
{
    const struct relay_like *r = ud;
    int rc = zt_metrics_emit_u64(o, NULL, "outcome=\"ok\"", r->ok);
    return rc ? rc : zt_metrics_emit_u64(o, NULL, "outcome=\"failed\"", r->failed);
}

static int render_hist(void *ud, struct zt_metrics_out *o)
{
    (void)ud;
    int rc = zt_metrics_emit_u64(o, "_bucket", "le=\"0.5\"", 1);
    if (!rc) rc = zt_metrics_emit_u64(o, "_bucket", "le=\"+Inf\"", 2);
    if (!rc) rc = zt_metrics_emit(o, "_sum", NULL, 1.25);
    if (!rc) rc = zt_metrics_emit_u64(o, "_count", NULL, 2);
    return rc;
}

static int render_nothing(void *ud, struct zt_metrics_out *o)
{
    (void)ud, (void)o;
    return 0;
}

static void test_render(void **state)
{
    (void)state;
    struct zt_metrics *m = NULL;
    assert_int_equal(zt_metrics_new(&m), 0);
    atomic_uint_fast64_t served = 41;
    struct relay_like r = {.ok = 7, .failed = 2};
    assert_int_equal(zt_metrics_add_u64(m, "zt_served_total", "Requests served.", ZT_METRIC_COUNTER, &served), 0);
    assert_int_equal(zt_metrics_add_fn(m, "zt_relay_total", "Relayed, by outcome.", ZT_METRIC_COUNTER,
                                       render_outcomes, &r),
                     0);
    assert_int_equal(zt_metrics_add_fn(m, "zt_latency_seconds", "Latency.", ZT_METRIC_HISTOGRAM, render_hist, NULL),
                     0);
    assert_int_equal(zt_metrics_add_fn(m, "zt_empty", "Nothing yet.", ZT_METRIC_GAUGE, render_nothing, NULL), 0);
    assert_int_equal(zt_metrics_count(m), 4);
    atomic_fetch_add(&served, 1); /* read at render time, not at registration */
    r.failed = 3;
    struct zt_buf b;
    zt_buf_init(&b, 1 << 16);
    assert_int_equal(zt_metrics_render(m, &b), 0);
    const char *want = "# HELP zt_served_total Requests served.\n"
                       "# TYPE zt_served_total counter\n"
                       "zt_served_total 42\n"
                       "# HELP zt_relay_total Relayed, by outcome.\n"
                       "# TYPE zt_relay_total counter\n"
                       "zt_relay_total{outcome=\"ok\"} 7\n"
                       "zt_relay_total{outcome=\"failed\"} 3\n"
                       "# HELP zt_latency_seconds Latency.\n"
                       "# TYPE zt_latency_seconds histogram\n"
                       "zt_latency_seconds_bucket{le=\"0.5\"} 1\n"
                       "zt_latency_seconds_bucket{le=\"+Inf\"} 2\n"
                       "zt_latency_seconds_sum 1.250000000\n"
                       "zt_latency_seconds_count 2\n"
                       "# HELP zt_empty Nothing yet.\n"
                       "# TYPE zt_empty gauge\n";
    assert_string_equal(zt_buf_str(&b), want);
    zt_buf_deinit(&b);
    zt_metrics_free(m);
}

struct by_reason {
    atomic_uint_fast64_t n[3];
    const char *long_name;
};

static int render_each(void *ud, struct zt_metrics_out *o)
{
    struct by_reason *b = ud;
    static const char *const names[3] = {"timeout", "refused", "ok"};
    if (b->long_name) return zt_metrics_emit_each(o, "reason", &b->long_name, b->n, 1);
    return zt_metrics_emit_each(o, "reason", names, b->n, 3);
}

/* zt_metrics_add_part: another module's samples of a family, rendered
 * with it (once under its HELP and TYPE), after the family's own. */
static void test_parts(void **state)
{
    (void)state;
    struct zt_metrics *m = NULL;
    assert_int_equal(zt_metrics_new(&m), 0);
    struct relay_like r = {.ok = 7, .failed = 2};
    atomic_uint_fast64_t served = 5;
    struct by_reason b = {.n = {4, 0, 9}};
    assert_int_equal(zt_metrics_add_part(m, "zt_relay_total", ZT_METRIC_COUNTER, render_each, &b), ZT_ENOTFOUND);
    assert_int_equal(zt_metrics_add_fn(m, "zt_relay_total", "Relayed, by outcome.", ZT_METRIC_COUNTER,
                                       render_outcomes, &r),
                     0);
    assert_int_equal(zt_metrics_add_u64(m, "zt_served_total", "Requests served.", ZT_METRIC_COUNTER, &served), 0);
    assert_int_equal(zt_metrics_add_part(m, "zt_relay_total", ZT_METRIC_GAUGE, render_each, &b), ZT_EINVAL);
    assert_int_equal(zt_metrics_add_part(m, "zt_relay_total", ZT_METRIC_COUNTER, render_each, &b), 0);
    assert_int_equal(zt_metrics_count(m), 2); /* families, not parts */
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    assert_int_equal(zt_metrics_render(m, &out), 0);
    const char *want = "# HELP zt_relay_total Relayed, by outcome.\n"
                       "# TYPE zt_relay_total counter\n"
                       "zt_relay_total{outcome=\"ok\"} 7\n"
                       "zt_relay_total{outcome=\"failed\"} 2\n"
                       "zt_relay_total{reason=\"timeout\"} 4\n"
                       "zt_relay_total{reason=\"refused\"} 0\n"
                       "zt_relay_total{reason=\"ok\"} 9\n"
                       "# HELP zt_served_total Requests served.\n"
                       "# TYPE zt_served_total counter\n"
                       "zt_served_total 5\n";
    assert_string_equal(zt_buf_str(&out), want);
    zt_buf_deinit(&out);
    zt_metrics_free(m);
}

static void test_emit_each(void **state)
{
    (void)state;
    struct zt_metrics *m = NULL;
    assert_int_equal(zt_metrics_new(&m), 0);
    struct by_reason b = {.n = {4, 0, 9}};
    static const struct zt_metrics_fam fams[] = {
        {"zt_jobs_total", "Jobs, by reason.", ZT_METRIC_COUNTER, render_each},
        {"zt_jobs_total", "Again: a duplicate.", ZT_METRIC_COUNTER, render_each},
    };
    assert_int_equal(zt_metrics_add_fns(m, fams, 1, &b), 0);
    assert_int_equal(zt_metrics_add_fns(m, fams + 1, 1, &b), ZT_EEXIST); /* the first error */
    assert_int_equal(zt_metrics_count(m), 1);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    assert_int_equal(zt_metrics_render(m, &out), 0);
    assert_string_equal(zt_buf_str(&out), "# HELP zt_jobs_total Jobs, by reason.\n"
                                          "# TYPE zt_jobs_total counter\n"
                                          "zt_jobs_total{reason=\"timeout\"} 4\n"
                                          "zt_jobs_total{reason=\"refused\"} 0\n"
                                          "zt_jobs_total{reason=\"ok\"} 9\n");
    /* a label that does not fit is an error, not a truncated sample */
    char name[160];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    b.long_name = name;
    zt_buf_reset(&out);
    assert_int_equal(zt_metrics_render(m, &out), ZT_ETOOBIG);
    zt_buf_deinit(&out);
    zt_metrics_free(m);
}

static int render_indexed(void *ud, struct zt_metrics_out *o)
{
    const uint64_t *v = ud;
    size_t i = zt_metrics_out_index(o);
    if (i == 1) return zt_metrics_emitf_u64(o, NULL, v[i], "at=\"%zu\",name=\"%s\"", i, "c");
    return zt_metrics_emit_u64(o, NULL, NULL, v[i]);
}

static void test_table_index(void **state)
{
    (void)state;
    struct zt_metrics *m = NULL;
    assert_int_equal(zt_metrics_new(&m), 0);
    uint64_t v[3] = {7, 8, 9};
    static const struct zt_metrics_fam fams[] = {
        {"zt_a", "A.", ZT_METRIC_GAUGE, render_indexed},
        {"zt_b", "B.", ZT_METRIC_GAUGE, render_indexed},
        {"zt_c", "C.", ZT_METRIC_COUNTER, render_indexed},
    };
    assert_int_equal(zt_metrics_add_fns(m, fams + 1, 2, v + 1), 0); /* indices count from the table passed */
    assert_int_equal(zt_metrics_add_fn(m, "zt_d", "D.", ZT_METRIC_GAUGE, render_indexed, v), 0);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    assert_int_equal(zt_metrics_render(m, &out), 0);
    assert_string_equal(zt_buf_str(&out), "# HELP zt_b B.\n# TYPE zt_b gauge\nzt_b 8\n"
                                          "# HELP zt_c C.\n# TYPE zt_c counter\nzt_c{at=\"1\",name=\"c\"} 9\n"
                                          "# HELP zt_d D.\n# TYPE zt_d gauge\nzt_d 7\n");
    zt_buf_deinit(&out);
    zt_metrics_free(m);
}

static int render_long_label(void *ud, struct zt_metrics_out *o)
{
    return zt_metrics_emitf_u64(o, NULL, 1, "name=\"%s\"", (const char *)ud);
}

static void test_emitf_too_long(void **state)
{
    (void)state;
    struct zt_metrics *m = NULL;
    assert_int_equal(zt_metrics_new(&m), 0);
    char name[300];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    assert_int_equal(zt_metrics_add_fn(m, "zt_long", "Long.", ZT_METRIC_GAUGE, render_long_label, name), 0);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    assert_int_equal(zt_metrics_render(m, &out), ZT_ETOOBIG); /* an error, not a truncated label */
    zt_buf_deinit(&out);
    zt_metrics_free(m);
}

static void test_register_errors(void **state)
{
    (void)state;
    struct zt_metrics *m = NULL;
    assert_int_equal(zt_metrics_new(&m), 0);
    atomic_uint_fast64_t v = 0;
    /* names: [a-zA-Z_:][a-zA-Z0-9_:]* */
    assert_int_equal(zt_metrics_add_u64(m, "", "h", ZT_METRIC_GAUGE, &v), ZT_EINVAL);
    assert_int_equal(zt_metrics_add_u64(m, "9lives", "h", ZT_METRIC_GAUGE, &v), ZT_EINVAL);
    assert_int_equal(zt_metrics_add_u64(m, "a-b", "h", ZT_METRIC_GAUGE, &v), ZT_EINVAL);
    assert_int_equal(zt_metrics_add_u64(m, "a b", "h", ZT_METRIC_GAUGE, &v), ZT_EINVAL);
    assert_int_equal(zt_metrics_add_u64(m, NULL, "h", ZT_METRIC_GAUGE, &v), ZT_EINVAL);
    /* help on one line; a value source; an atomic is no histogram */
    assert_int_equal(zt_metrics_add_u64(m, "ok", "two\nlines", ZT_METRIC_GAUGE, &v), ZT_EINVAL);
    assert_int_equal(zt_metrics_add_u64(m, "ok", NULL, ZT_METRIC_GAUGE, &v), ZT_EINVAL);
    assert_int_equal(zt_metrics_add_u64(m, "ok", "h", ZT_METRIC_GAUGE, NULL), ZT_EINVAL);
    assert_int_equal(zt_metrics_add_fn(m, "ok", "h", ZT_METRIC_GAUGE, NULL, NULL), ZT_EINVAL);
    assert_int_equal(zt_metrics_add_u64(m, "ok", "h", ZT_METRIC_HISTOGRAM, &v), ZT_EINVAL);
    assert_int_equal(zt_metrics_add_u64(m, "ok", "h", (enum zt_metric_type)42, &v), ZT_EINVAL);
    assert_int_equal(zt_metrics_count(m), 0);
    /* one name once */
    assert_int_equal(zt_metrics_add_u64(m, "ns:ok_1", "h", ZT_METRIC_GAUGE, &v), 0);
    assert_int_equal(zt_metrics_add_fn(m, "ns:ok_1", "h", ZT_METRIC_GAUGE, render_nothing, NULL), ZT_EEXIST);
    /* bounded */
    static char names[ZT_METRICS_MAX][16];
    for (int i = 1; i < ZT_METRICS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "m%d", i);
        assert_int_equal(zt_metrics_add_u64(m, names[i], "h", ZT_METRIC_GAUGE, &v), 0);
    }
    assert_int_equal(zt_metrics_count(m), ZT_METRICS_MAX);
    assert_int_equal(zt_metrics_add_u64(m, "one_more", "h", ZT_METRIC_GAUGE, &v), ZT_ETOOBIG);
    zt_metrics_free(m);
    zt_metrics_free(NULL);
}

static void test_full_output(void **state)
{
    (void)state;
    struct zt_metrics *m = NULL;
    assert_int_equal(zt_metrics_new(&m), 0);
    struct relay_like r = {.ok = 1, .failed = 1};
    assert_int_equal(zt_metrics_add_fn(m, "zt_relay_total", "Relayed.", ZT_METRIC_COUNTER, render_outcomes, &r), 0);
    /* an output whose maximum is reached inside a callback: the error comes back */
    struct zt_buf b;
    zt_buf_init(&b, 80);
    assert_int_equal(zt_metrics_render(m, &b), ZT_ETOOBIG);
    zt_buf_deinit(&b);
    zt_metrics_free(m);
}

/* The process's own family: its resident memory, a positive number of
 * whole pages, rendered as one unlabelled gauge sample. */
static void test_process(void **state)
{
    (void)state;
    long rss = zt_process_rss_bytes();
    assert_true(rss > 0);
    assert_int_equal(rss % sysconf(_SC_PAGESIZE), 0);
    struct zt_metrics *m = NULL;
    assert_int_equal(zt_metrics_new(&m), 0);
    assert_int_equal(zt_metrics_register_process(m), 0);
    assert_int_equal(zt_metrics_count(m), 1);
    struct zt_buf b;
    zt_buf_init(&b, 1 << 12);
    assert_int_equal(zt_metrics_render(m, &b), 0);
    const char *head = "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                       "# TYPE process_resident_memory_bytes gauge\n"
                       "process_resident_memory_bytes ";
    const char *out = zt_buf_str(&b);
    assert_int_equal(strncmp(out, head, strlen(head)), 0);
    const char *v = out + strlen(head);
    assert_true(v[0] >= '1' && v[0] <= '9');
    assert_true(strspn(v, "0123456789") + 1 == strlen(v) && v[strlen(v) - 1] == '\n');
    zt_buf_deinit(&b);
    zt_metrics_free(m);
}

static void test_alloc_failure(void **state)
{
    (void)state;
    struct zt_metrics *m = (struct zt_metrics *)&m;
    zt_alloc_fail_after(1);
    assert_int_equal(zt_metrics_new(&m), ZT_ENOMEM);
    zt_alloc_fail_after(0);
    assert_ptr_equal(m, (struct zt_metrics *)&m); /* out-parameter untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_render, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_parts, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_emit_each, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_table_index, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_emitf_too_long, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_register_errors, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_full_output, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failure, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_process, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests_name("metrics", tests, NULL, NULL));
}
