/* test_pseudo.c: pseudonymisation round trips (zt_pseudo.h) and privacy
 * decisions (zt_privacy.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_pseudo.h"
#include "zt_test.h"

static void mask(struct zt_pseudo *p, const char *text, struct zt_buf *out)
{
    struct zt_pii_hits h;
    zt_pii_hits_init(&h);
    assert_int_equal(zt_pii_detect(NULL, text, strlen(text), &h), 0);
    zt_buf_reset(out);
    assert_int_equal(zt_pseudo_apply(p, text, strlen(text), &h, out), 0);
    zt_pii_hits_deinit(&h);
}

/* Two messages of one job share pseudonyms; the simulated job output
 * echoes some of them (twice, in another order), invents an unknown one and
 * a look-alike; restore gives the values back and leaves the rest. */
static void test_round_trip(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    struct zt_pseudo *p = NULL;
    assert_int_equal(zt_pseudo_new(NULL, &p), 0);
    struct zt_buf m1, m2, out;
    zt_buf_init(&m1, 1 << 16);
    zt_buf_init(&m2, 1 << 16);
    zt_buf_init(&out, 1 << 16);
    mask(p, "Write to alice@example.com or bob@example.org, card 4111 1111 1111 1111.", &m1);
    assert_string_equal(zt_buf_str(&m1), "Write to <EMAIL_1> or <EMAIL_2>, card <CARD_1>.");
    mask(p, "Again: alice@example.com, and call +44 20 7946 0018", &m2);
    assert_string_equal(zt_buf_str(&m2), "Again: <EMAIL_1>, and call <PHONE_1>");
    assert_int_equal(zt_pseudo_count(p), 4);
    const char *job = "Sure. <EMAIL_2> then <EMAIL_1>; <EMAIL_1> again. <PHONE_1>. <EMAIL_9> <FOO_1> <EMAIL_01> <EMAIL_ <CARD_1>";
    assert_int_equal(zt_pseudo_restore(p, job, strlen(job), &out), 0);
    assert_string_equal(zt_buf_str(&out), "Sure. bob@example.org then alice@example.com; alice@example.com again. "
                                          "+44 20 7946 0018. <EMAIL_9> <FOO_1> <EMAIL_01> <EMAIL_ 4111 1111 1111 1111");
    /* restoring the masked messages gives the originals */
    zt_buf_reset(&out);
    assert_int_equal(zt_pseudo_restore(p, m1.data, m1.len, &out), 0);
    assert_string_equal(zt_buf_str(&out), "Write to alice@example.com or bob@example.org, card 4111 1111 1111 1111.");
    zt_buf_deinit(&m1);
    zt_buf_deinit(&m2);
    zt_buf_deinit(&out);
    zt_pseudo_free(p);
    zt_pseudo_free(NULL);
    assert_int_equal(zt_alloc_live(), live);
}

/* Bad hits are refused; an output buffer too small leaves buffer and
 * mapping as they were. */
static void test_errors_atomic(void **state)
{
    (void)state;
    struct zt_pseudo *p = NULL;
    assert_int_equal(zt_pseudo_new(NULL, &p), 0);
    const char *t = "x alice@example.com y";
    struct zt_pii_hit bad[] = {{.type = ZT_PII_EMAIL, .start = 2, .end = 99, .confidence = 1}};
    struct zt_pii_hits h = {.v = bad, .n = 1, .cap = 1};
    struct zt_buf out;
    zt_buf_init(&out, 8);
    assert_int_equal(zt_pseudo_apply(p, t, strlen(t), &h, &out), ZT_EINVAL);
    bad[0].end = 19;
    assert_int_equal(zt_pseudo_apply(p, t, strlen(t), &h, &out), ZT_ETOOBIG);
    assert_int_equal(out.len, 0);
    assert_int_equal(zt_pseudo_count(p), 0);
    zt_buf_deinit(&out);
    zt_buf_init(&out, 1024);
    assert_int_equal(zt_pseudo_apply(p, t, strlen(t), &h, &out), 0);
    assert_string_equal(zt_buf_str(&out), "x <EMAIL_1> y");
    zt_buf_deinit(&out);
    zt_pseudo_free(p);
}

static void test_policy(void **state)
{
    (void)state;
    struct zt_config cfg;
    assert_int_equal(zt_config_init_defaults(&cfg), 0);
    const char *yaml = "privacy:\n"
                       "  default_policy: pseudonymise\n"
                       "  policies:\n"
                       "    - {feature: chat, type: CARD, action: local_only}\n"
                       "    - {feature: chat, type: '*', action: allow}\n"
                       "    - {feature: '*', type: IP, action: allow}\n"
                       "    - {feature: summarize, type: EMAIL, action: pseudonymise}\n";
    struct zt_buf errs;
    zt_buf_init(&errs, 4096);
    assert_int_equal(zt_config_load_string(&cfg, "privacy.yaml", "privacy.yaml", yaml, strlen(yaml), &errs), 0);
    struct zt_privacy_policy *pol = NULL;
    assert_int_equal(zt_privacy_policy_new(&cfg.privacy, NULL, &pol, &errs), 0);
    assert_int_equal(zt_privacy_action_for(pol, "chat", ZT_PII_CARD), ZT_PRIVACY_LOCAL_ONLY);
    assert_int_equal(zt_privacy_action_for(pol, "chat", ZT_PII_EMAIL), ZT_PRIVACY_ALLOW);
    assert_int_equal(zt_privacy_action_for(pol, "summarize", ZT_PII_IP), ZT_PRIVACY_ALLOW);
    assert_int_equal(zt_privacy_action_for(pol, "summarize", ZT_PII_PHONE), ZT_PRIVACY_PSEUDONYMISE);
    const char *t = "from 192.0.2.1 mail alice@example.com";
    struct zt_pii_hits h, f;
    zt_pii_hits_init(&h);
    zt_pii_hits_init(&f);
    assert_int_equal(zt_pii_detect(NULL, t, strlen(t), &h), 0);
    assert_int_equal(zt_privacy_decide(pol, "summarize", &h), ZT_PRIVACY_PSEUDONYMISE);
    assert_int_equal(zt_privacy_decide(pol, "chat", &h), ZT_PRIVACY_ALLOW);
    assert_int_equal(zt_privacy_filter(pol, "summarize", &h, &f), 0);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.v[0].type, ZT_PII_EMAIL);
    const char *t2 = "card 4111111111111111";
    assert_int_equal(zt_pii_detect(NULL, t2, strlen(t2), &h), 0);
    assert_int_equal(zt_privacy_decide(pol, "chat", &h), ZT_PRIVACY_LOCAL_ONLY);
    h.n = 0;
    assert_int_equal(zt_privacy_decide(pol, "chat", &h), ZT_PRIVACY_ALLOW);
    zt_pii_hits_deinit(&h);
    zt_pii_hits_deinit(&f);
    zt_privacy_policy_free(pol);
    /* a rule naming a type nobody detects */
    const char *bad = "privacy:\n  policies:\n    - {feature: chat, type: PASSPORT, action: allow}\n";
    assert_int_equal(zt_config_load_string(&cfg, "privacy.yaml", "privacy.yaml", bad, strlen(bad), &errs), 0);
    zt_buf_reset(&errs);
    assert_int_equal(zt_privacy_policy_new(&cfg.privacy, NULL, &pol, &errs), ZT_ECONFIG);
    assert_non_null(strstr(zt_buf_str(&errs), "PASSPORT"));
    /* bad action / bad feature are config errors */
    const char *bad2 = "privacy:\n  policies:\n    - {feature: Chat!, type: EMAIL, action: drop}\n";
    zt_buf_reset(&errs);
    assert_int_equal(zt_config_load_string(&cfg, "privacy.yaml", "privacy.yaml", bad2, strlen(bad2), &errs),
                     ZT_ECONFIG);
    assert_non_null(strstr(zt_buf_str(&errs), "privacy.yaml:3:"));
    zt_buf_deinit(&errs);
    zt_config_deinit(&cfg);
}

/* Restore text given in pieces, each piece at most step bytes. */
static void stream_pieces(struct zt_pseudo *p, const char *text, size_t step, struct zt_buf *out)
{
    struct zt_pseudo_stream st;
    zt_pseudo_stream_init(&st, p);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += step)
        assert_int_equal(zt_pseudo_stream_feed(&st, text + i, n - i < step ? n - i : step, out), 0);
    assert_int_equal(zt_pseudo_stream_end(&st, out), 0);
    assert_int_equal(st.n_held, 0);
}

/* The streaming restore: a pseudonym split anywhere between two pieces
 * (or fed byte by byte) is restored; what only looks like the start of
 * one is held until it cannot be one, then passed on unchanged; the
 * result always equals the one-shot restore of the whole text. */
static void test_stream_restore(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    struct zt_pseudo *p = NULL;
    assert_int_equal(zt_pseudo_new(NULL, &p), 0);
    struct zt_buf m, out, want;
    zt_buf_init(&m, 1 << 16);
    zt_buf_init(&out, 1 << 16);
    zt_buf_init(&want, 1 << 16);
    mask(p, "mail alice@example.com and bob@example.org", &m);
    const char *job = "Hi <EMAIL_1>! and <EMAIL_2>, not <EMAIL_9> nor <FOO_1> nor a < b, end <EMAIL_";
    assert_int_equal(zt_pseudo_restore(p, job, strlen(job), &want), 0);
    assert_string_equal(zt_buf_str(&want), "Hi alice@example.com! and bob@example.org, not <EMAIL_9> nor <FOO_1> "
                                           "nor a < b, end <EMAIL_");
    /* two pieces, split at every position */
    size_t n = strlen(job);
    for (size_t cut = 0; cut <= n; cut++) {
        struct zt_pseudo_stream st;
        zt_pseudo_stream_init(&st, p);
        zt_buf_reset(&out);
        assert_int_equal(zt_pseudo_stream_feed(&st, job, cut, &out), 0);
        /* nothing of a possible pseudonym has gone out yet */
        assert_null(strstr(zt_buf_str(&out), "<EMAIL_1"));
        assert_int_equal(zt_pseudo_stream_feed(&st, job + cut, n - cut, &out), 0);
        assert_int_equal(zt_pseudo_stream_end(&st, &out), 0);
        assert_string_equal(zt_buf_str(&out), zt_buf_str(&want));
    }
    for (size_t step = 1; step <= 7; step++) {
        zt_buf_reset(&out);
        stream_pieces(p, job, step, &out);
        assert_string_equal(zt_buf_str(&out), zt_buf_str(&want));
    }
    /* "<EMA" then "IL_1>": held, then restored */
    struct zt_pseudo_stream st;
    zt_pseudo_stream_init(&st, p);
    zt_buf_reset(&out);
    assert_int_equal(zt_pseudo_stream_feed(&st, "to <EMA", 7, &out), 0);
    assert_string_equal(zt_buf_str(&out), "to ");
    assert_int_equal(st.n_held, 4);
    assert_int_equal(zt_pseudo_stream_feed(&st, "IL_1>.", 6, &out), 0);
    assert_string_equal(zt_buf_str(&out), "to alice@example.com.");
    assert_int_equal(zt_pseudo_stream_end(&st, &out), 0);
    /* a long run after '<' is not held beyond what a pseudonym can be */
    zt_buf_reset(&out);
    zt_pseudo_stream_init(&st, p);
    char longrun[128];
    memset(longrun, 'A', sizeof longrun - 1);
    longrun[0] = '<';
    longrun[sizeof longrun - 1] = '\0';
    assert_int_equal(zt_pseudo_stream_feed(&st, longrun, strlen(longrun), &out), 0);
    assert_true(st.n_held < ZT_PSEUDO_PSEUDONYM_MAX);
    assert_int_equal(zt_pseudo_stream_end(&st, &out), 0);
    assert_string_equal(zt_buf_str(&out), longrun);
    zt_pseudo_stream_deinit(&st);
    zt_buf_deinit(&m);
    zt_buf_deinit(&out);
    zt_buf_deinit(&want);
    zt_pseudo_free(p);
    assert_int_equal(zt_alloc_live(), live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_errors_atomic),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_stream_restore),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
