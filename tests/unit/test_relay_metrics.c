/* test_relay_metrics: the oblivious relay (zt_jobs.h, src/jobs/forward.c)
 * registers its own series: zentalk_relay_requests_total by outcome and
 * zentalk_relay_in_flight, rendered from zt_relay_stats. A refused request
 * (no target named) is counted under "refused" and nothing stays in
 * flight. The relay over HTTP is test_relay_api's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "zt_test.h"

#include "zentalk/zt_buf.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_peers.h"

/* The text of m's /metrics page (NUL-terminated, in b). */
static const char *render(struct zt_metrics *m, struct zt_buf *b)
{
    zt_buf_reset(b);
    assert_int_equal(zt_metrics_render(m, b), 0);
    assert_int_equal(zt_buf_append(b, "", 1), 0);
    return (const char *)b->data;
}

static void test_series(void **state)
{
    (void)state;
    struct zt_peers *peers = NULL;
    struct zt_relay *r = NULL;
    struct zt_metrics *m = NULL;
    assert_int_equal(zt_peers_new(&peers), 0);
    assert_int_equal(zt_relay_new(peers, 5, 4, &r), 0);
    assert_int_equal(zt_metrics_new(&m), 0);
    assert_int_equal(zt_relay_register_metrics(r, m), 0);
    struct zt_buf b;
    zt_buf_init(&b, 1 << 20);
    const char *t = render(m, &b);
    assert_non_null(strstr(t, "# TYPE zentalk_relay_requests_total counter\n"));
    assert_non_null(strstr(t, "zentalk_relay_requests_total{outcome=\"forwarded\"} 0\n"));
    assert_non_null(strstr(t, "zentalk_relay_requests_total{outcome=\"refused\"} 0\n"));
    assert_non_null(strstr(t, "# TYPE zentalk_relay_in_flight gauge\n"));
    assert_non_null(strstr(t, "zentalk_relay_in_flight 0\n"));

    /* a request naming no target: refused, counted */
    struct zt_relay_fwd *f = NULL;
    struct zt_relay_refusal why;
    const uint8_t body[4] = {1, 2, 3, 4};
    assert_int_equal(zt_relay_accept(r, NULL, "application/octet-stream", body, sizeof body, &f, &why), ZT_EPERM);
    assert_null(f);
    t = render(m, &b);
    assert_non_null(strstr(t, "zentalk_relay_requests_total{outcome=\"refused\"} 1\n"));
    assert_non_null(strstr(t, "zentalk_relay_requests_total{outcome=\"failed\"} 0\n"));
    assert_non_null(strstr(t, "zentalk_relay_in_flight 0\n"));

    zt_buf_deinit(&b);
    zt_metrics_free(m);
    zt_relay_free(r);
    zt_peers_free(peers);
}

int main(void)
{
    zt_log_set_level(ZT_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_series, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
