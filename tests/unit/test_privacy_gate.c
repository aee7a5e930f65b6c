/* test_privacy_gate.c: the privacy gate (zt_privacy.h): one decision over
 * every text of a job: allow, masked with a restore map that gives the
 * values back, refuse; types allowed in clear stay; bad arguments; nothing
 * leaks, also when allocations fail; privacy.yaml's verification exemptions. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "zt_test.h"

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_pseudo.h"

static const char *policy_yaml = "privacy:\n"
                                 "  default_policy: pseudonymise\n"
                                 "  policies:\n"
                                 "    - {feature: chat, type: CARD, action: local_only}\n"
                                 "    - {feature: '*', type: IP, action: allow}\n";

struct fixture {
    struct zt_config cfg;
    struct zt_privacy_gate *g;
};

static int setup(void **state)
{
    static struct fixture f;
    struct zt_buf errs;
    zt_buf_init(&errs, 4096);
    assert_int_equal(zt_config_init_defaults(&f.cfg), 0);
    assert_int_equal(zt_config_load_string(&f.cfg, "privacy.yaml", "privacy.yaml", policy_yaml,
                                           strlen(policy_yaml), &errs),
                     0);
    f.cfg.privacy.pii_filter = true;
    assert_int_equal(zt_privacy_gate_new(&f.cfg.privacy, &f.g, &errs), 0);
    zt_buf_deinit(&errs);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    zt_privacy_gate_free(f->g);
    zt_config_deinit(&f->cfg);
    return 0;
}

static struct zt_privacy_text T(const char *s)
{
    return (struct zt_privacy_text){s, strlen(s)};
}

static void test_allow(void **state)
{
    struct fixture *f = *state;
    int64_t live = zt_alloc_live();
    struct zt_privacy_text t[] = {T("hello there"), T("from 192.0.2.1")}; /* IP: allowed everywhere */
    struct zt_privacy_verdict v;
    assert_int_equal(zt_privacy_gate_check(f->g, "chat", t, 2, &v), 0);
    assert_int_equal(v.kind, ZT_PRIVACY_VERDICT_ALLOW);
    assert_string_equal(zt_privacy_verdict_decision(&v), "allow");
    assert_string_equal(v.feature, "chat");
    assert_false(v.own_data);
    assert_int_equal(v.n, 2);
    assert_int_equal(v.hits[0].n, 0);
    assert_int_equal(v.hits[1].n, 1);
    assert_true(v.types & (1ull << ZT_PII_IP));
    assert_null(v.masked);
    assert_null(v.restore);
    zt_privacy_verdict_deinit(&v);
    zt_privacy_verdict_deinit(&v); /* zeroed: a no-op */
    zt_privacy_verdict_deinit(NULL);
    /* no texts at all: allow */
    assert_int_equal(zt_privacy_gate_check(f->g, "completion", NULL, 0, &v), 0);
    assert_int_equal(v.kind, ZT_PRIVACY_VERDICT_ALLOW);
    zt_privacy_verdict_deinit(&v);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_masked_and_restored(void **state)
{
    struct fixture *f = *state;
    int64_t live = zt_alloc_live();
    struct zt_privacy_text t[] = {T("mail alice@example.com from 192.0.2.1"), T("again: alice@example.com"),
                                  T("no personal data")};
    struct zt_privacy_verdict v;
    assert_int_equal(zt_privacy_gate_check(f->g, "completion", t, 3, &v), 0);
    assert_int_equal(v.kind, ZT_PRIVACY_VERDICT_MASKED);
    assert_string_equal(zt_privacy_verdict_decision(&v), "pseudonymise");
    assert_non_null(v.masked);
    assert_non_null(v.restore);
    /* the e-mail is masked, the same value with the same pseudonym in both
     * texts; the IP (allowed) stays in clear */
    assert_string_equal(zt_buf_str(&v.masked[0]), "mail <EMAIL_1> from 192.0.2.1");
    assert_string_equal(zt_buf_str(&v.masked[1]), "again: <EMAIL_1>");
    assert_string_equal(zt_buf_str(&v.masked[2]), "no personal data");
    assert_int_equal(zt_pseudo_count(v.restore), 1);
    /* the restore map gives the value back, also split across pieces */
    struct zt_pseudo_stream ps;
    struct zt_buf out;
    zt_buf_init(&out, 4096);
    zt_pseudo_stream_init(&ps, v.restore);
    assert_int_equal(zt_pseudo_stream_feed(&ps, "write to <EMA", 13, &out), 0);
    assert_int_equal(zt_pseudo_stream_feed(&ps, "IL_1> today", 11, &out), 0);
    assert_int_equal(zt_pseudo_stream_end(&ps, &out), 0);
    assert_string_equal(zt_buf_str(&out), "write to alice@example.com today");
    zt_pseudo_stream_deinit(&ps);
    zt_buf_deinit(&out);
    zt_privacy_verdict_deinit(&v);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_refuse(void **state)
{
    struct fixture *f = *state;
    int64_t live = zt_alloc_live();
    struct zt_privacy_text t[] = {T("mail alice@example.com"), T("card 4111111111111111")};
    struct zt_privacy_verdict v;
    assert_int_equal(zt_privacy_gate_check(f->g, "chat", t, 2, &v), 0);
    assert_int_equal(v.kind, ZT_PRIVACY_VERDICT_REFUSE);
    assert_string_equal(zt_privacy_verdict_decision(&v), "local_only");
    assert_int_equal(v.refused_types, 1ull << ZT_PII_CARD);
    assert_true(v.types & (1ull << ZT_PII_EMAIL));
    assert_null(v.masked); /* nothing is prepared for a job that never leaves */
    assert_null(v.restore);
    zt_privacy_verdict_deinit(&v);
    /* the same card under another feature: the default, pseudonymise */
    assert_int_equal(zt_privacy_gate_check(f->g, "completion", t, 2, &v), 0);
    assert_int_equal(v.kind, ZT_PRIVACY_VERDICT_MASKED);
    zt_privacy_verdict_deinit(&v);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_filter_off_and_bad_args(void **state)
{
    struct fixture *f = *state;
    struct zt_privacy_text t[] = {T("card 4111111111111111")};
    struct zt_privacy_verdict v;
    memset(&v, 0x5a, sizeof v);
    assert_int_equal(zt_privacy_gate_check(NULL, "chat", t, 1, &v), ZT_EINVAL);
    assert_int_equal(zt_privacy_gate_check(f->g, NULL, t, 1, &v), ZT_EINVAL);
    assert_int_equal(zt_privacy_gate_check(f->g, "", t, 1, &v), ZT_EINVAL);
    char longf[ZT_PRIVACY_FEATURE_MAX + 2];
    memset(longf, 'a', sizeof longf - 1);
    longf[sizeof longf - 1] = '\0';
    assert_int_equal(zt_privacy_gate_check(f->g, longf, t, 1, &v), ZT_EINVAL);
    assert_int_equal(zt_privacy_gate_check(f->g, "chat", NULL, 1, &v), ZT_EINVAL);
    assert_int_equal(((unsigned char *)&v)[0], 0x5a); /* untouched on failure */
    /* privacy.pii_filter off: detected, but allowed */
    struct zt_config cfg;
    struct zt_privacy_gate *g = NULL;
    assert_int_equal(zt_config_init_defaults(&cfg), 0);
    cfg.privacy.pii_filter = false;
    assert_int_equal(zt_privacy_gate_new(&cfg.privacy, &g, NULL), 0);
    assert_int_equal(zt_privacy_gate_check(g, "chat", t, 1, &v), 0);
    assert_int_equal(v.kind, ZT_PRIVACY_VERDICT_ALLOW);
    assert_true(v.types & (1ull << ZT_PII_CARD));
    zt_privacy_verdict_deinit(&v);
    zt_privacy_gate_free(g);
    zt_privacy_gate_free(NULL);
    zt_config_deinit(&cfg);
    /* own data: allow, and says so */
    zt_privacy_verdict_own_data(&v);
    assert_int_equal(v.kind, ZT_PRIVACY_VERDICT_ALLOW);
    assert_true(v.own_data);
    assert_int_equal(v.n, 0);
    zt_privacy_verdict_deinit(&v);
}

static void test_alloc_failures(void **state)
{
    struct fixture *f = *state;
    int64_t live = zt_alloc_live();
    struct zt_privacy_text t[] = {T("mail alice@example.com"), T("bob@example.org and alice@example.com")};
    bool done = false;
    for (int64_t n = 1; n < 200 && !done; n++) {
        struct zt_privacy_verdict v;
        zt_alloc_fail_after(n);
        int rc = zt_privacy_gate_check(f->g, "completion", t, 2, &v);
        zt_alloc_fail_after(0);
        if (rc == 0) {
            assert_int_equal(v.kind, ZT_PRIVACY_VERDICT_MASKED);
            assert_string_equal(zt_buf_str(&v.masked[1]), "<EMAIL_2> and <EMAIL_1>");
            zt_privacy_verdict_deinit(&v);
            done = true;
            continue;
        }
        assert_true(rc == ZT_ENOMEM || rc == ZT_ETOOBIG);
        assert_int_equal(zt_alloc_live(), live);
    }
    assert_true(done);
    assert_int_equal(zt_alloc_live(), live);
}

/* privacy.yaml's verification exemptions (zt_privacy_verification_exempt,
 * issue 11 item 5): a listed feature, then a listed user (the caller's
 * authenticated identity) is never sent to a verifier; the feature wins
 * when both are listed; exact matches only; empty or NULL names nothing. */
static void test_verification_exempt(void **state)
{
    (void)state;
    static const char *yaml = "privacy:\n"
                              "  verification_exempt_features: [translate, completion]\n"
                              "  verification_exempt_users: [alice, 'wallet:0xabc']\n";
    struct zt_config cfg;
    struct zt_buf errs;
    zt_buf_init(&errs, 4096);
    assert_int_equal(zt_config_init_defaults(&cfg), 0);
    assert_int_equal(zt_config_load_string(&cfg, "privacy.yaml", "privacy.yaml", yaml, strlen(yaml), &errs), 0);
    const struct zt_cfg_privacy *p = &cfg.privacy;
    assert_string_equal(zt_privacy_verification_exempt(p, "completion", "bob"), "feature");
    assert_string_equal(zt_privacy_verification_exempt(p, "translate", NULL), "feature");
    assert_string_equal(zt_privacy_verification_exempt(p, "chat", "alice"), "user");
    assert_string_equal(zt_privacy_verification_exempt(p, "chat", "wallet:0xabc"), "user");
    assert_string_equal(zt_privacy_verification_exempt(p, "completion", "alice"), "feature");
    assert_null(zt_privacy_verification_exempt(p, "chat", "bob"));
    assert_null(zt_privacy_verification_exempt(p, "chat", "alice2")); /* exact match only */
    assert_null(zt_privacy_verification_exempt(p, "chat", "Alice"));
    assert_null(zt_privacy_verification_exempt(p, "chat", ""));
    assert_null(zt_privacy_verification_exempt(p, "chat", NULL));
    assert_null(zt_privacy_verification_exempt(p, NULL, NULL));
    assert_null(zt_privacy_verification_exempt(NULL, "completion", "alice"));
    /* the defaults exempt nobody */
    struct zt_config def;
    assert_int_equal(zt_config_init_defaults(&def), 0);
    assert_null(zt_privacy_verification_exempt(&def.privacy, "chat", "alice"));
    zt_config_deinit(&def);
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allow),
        cmocka_unit_test(test_masked_and_restored),
        cmocka_unit_test(test_refuse),
        cmocka_unit_test(test_filter_off_and_bad_args),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_verification_exempt),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
