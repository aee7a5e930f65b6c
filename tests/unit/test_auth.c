/* test_auth.c: bearer-header parsing, JWT verification (tokens minted here
 * with libjwt or by hand) and the token-bucket rate limiter with an
 * injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

#include "zentalk/zt_auth.h"
#include "zentalk/zt_ratelimit.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"
#include "zt_test.h"

#define SECRET "test-secret-0123456789abcdef0123456789"
#define ISS "zentalk-api"
#define AUD "zentalk-ai"
#define NOW 1800000000LL

struct claims {
    const char *sub, *role, *iss, *aud;
    long exp, nbf; /* 0 = absent */
};

static char *mint(const char *secret, const struct claims *c)
{
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    if (c->sub) assert_int_equal(jwt_add_grant(j, "sub", c->sub), 0);
    if (c->role) assert_int_equal(jwt_add_grant(j, "role", c->role), 0);
    if (c->iss) assert_int_equal(jwt_add_grant(j, "iss", c->iss), 0);
    if (c->aud) assert_int_equal(jwt_add_grant(j, "aud", c->aud), 0);
    if (c->exp) assert_int_equal(jwt_add_grant_int(j, "exp", c->exp), 0);
    if (c->nbf) assert_int_equal(jwt_add_grant_int(j, "nbf", c->nbf), 0);
    assert_int_equal(jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)), 0);
    char *t = jwt_encode_str(j);
    assert_non_null(t);
    jwt_free(j);
    return t;
}

static struct claims good(void)
{
    return (struct claims){"alice", "user", ISS, AUD, NOW + 600, 0};
}

static int verify(const char *tok, struct zt_auth_principal *p, const char **why)
{
    return zt_auth_verify(SECRET, ISS, AUD, tok, strlen(tok), NOW, p, why);
}

static void b64(const char *in, char *out, size_t n)
{
    sodium_bin2base64(out, n, (const unsigned char *)in, strlen(in), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void test_good_token(void **state)
{
    (void)state;
    struct claims c = good();
    char *t = mint(SECRET, &c);
    struct zt_auth_principal p;
    const char *why = NULL;
    assert_int_equal(verify(t, &p, &why), 0);
    assert_string_equal(p.identity, "alice");
    assert_int_equal(p.role, ZT_AUTH_USER);
    free(t);

    c.role = "admin";
    c.nbf = NOW - 10;
    t = mint(SECRET, &c);
    assert_int_equal(verify(t, &p, &why), 0);
    assert_int_equal(p.role, ZT_AUTH_ADMIN);
    free(t);

    c.role = "provider";
    t = mint(SECRET, &c);
    assert_int_equal(verify(t, &p, &why), 0);
    assert_int_equal(p.role, ZT_AUTH_PROVIDER);
    free(t);

    /* no issuer/audience configured: not checked */
    c.iss = NULL;
    c.aud = NULL;
    t = mint(SECRET, &c);
    assert_int_equal(zt_auth_verify(SECRET, "", "", t, strlen(t), NOW, &p, &why), 0);
    assert_int_equal(verify(t, &p, &why), ZT_ECRYPTO);
    free(t);
}

static void expect_reject(const struct claims *c, const char *secret, const char *reason)
{
    char *t = mint(secret, c);
    struct zt_auth_principal p = {.role = ZT_AUTH_NONE};
    const char *why = NULL;
    assert_int_equal(verify(t, &p, &why), ZT_ECRYPTO);
    assert_non_null(why);
    if (reason && strcmp(why, reason) != 0) fail_msg("reason \"%s\", expected \"%s\"", why, reason);
    assert_int_equal(p.role, ZT_AUTH_NONE); /* untouched */
    free(t);
}

static void test_claim_rejections(void **state)
{
    (void)state;
    struct claims c = good();
    c.exp = NOW - 3600;
    expect_reject(&c, SECRET, "expired");
    c = good();
    c.exp = NOW - 10; /* within the leeway: fine */
    char *t = mint(SECRET, &c);
    struct zt_auth_principal p;
    const char *why;
    assert_int_equal(verify(t, &p, &why), 0);
    free(t);
    c = good();
    c.exp = 0;
    expect_reject(&c, SECRET, "exp missing or not an integer");
    c = good();
    c.nbf = NOW + 3600;
    expect_reject(&c, SECRET, "not yet valid");
    c = good();
    c.iss = "evil";
    expect_reject(&c, SECRET, "wrong issuer");
    c = good();
    c.aud = "other";
    expect_reject(&c, SECRET, "wrong audience");
    c = good();
    expect_reject(&c, "another-secret-entirely-0123456789", "bad signature");
    c = good();
    c.role = "root";
    expect_reject(&c, SECRET, "unknown role");
    c = good();
    c.role = NULL;
    expect_reject(&c, SECRET, "role missing");
    c = good();
    c.sub = "";
    expect_reject(&c, SECRET, "sub missing or invalid");
    c = good();
    c.sub = "has space";
    expect_reject(&c, SECRET, "sub missing or invalid");
    /* issue 17 item 4: exp/nbf at the ends of int64 must not overflow
     * "exp + leeway" (UBSan aborted the node on exp = INT64_MAX) */
    c = good();
    c.exp = LONG_MAX; /* far future: valid */
    t = mint(SECRET, &c);
    assert_int_equal(verify(t, &p, &why), 0);
    free(t);
    c = good();
    c.exp = LONG_MIN;
    expect_reject(&c, SECRET, "expired");
    c = good();
    c.nbf = LONG_MAX;
    expect_reject(&c, SECRET, "not yet valid");
    c = good();
    c.nbf = LONG_MIN; /* long ago: fine */
    t = mint(SECRET, &c);
    assert_int_equal(verify(t, &p, &why), 0);
    free(t);
}

static void test_audience_array(void **state)
{
    (void)state;
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    assert_int_equal(jwt_add_grants_json(j, "{\"sub\":\"bob\",\"role\":\"user\",\"iss\":\"zentalk-api\","
                                            "\"aud\":[\"x\",\"zentalk-ai\"],\"exp\":1800000600}"),
                     0);
    assert_int_equal(jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
    char *t = jwt_encode_str(j);
    jwt_free(j);
    struct zt_auth_principal p;
    const char *why;
    assert_int_equal(verify(t, &p, &why), 0);
    assert_string_equal(p.identity, "bob");
    free(t);
}

static void test_alg_none_and_others(void **state)
{
    (void)state;
    char h[128], pl[256], tok[512];
    b64("{\"sub\":\"eve\",\"role\":\"admin\",\"iss\":\"zentalk-api\",\"aud\":\"zentalk-ai\",\"exp\":1800000600}",
        pl, sizeof pl);
    struct zt_auth_principal p;
    const char *why;
    /* alg none with and without a signature */
    b64("{\"alg\":\"none\",\"typ\":\"JWT\"}", h, sizeof h);
    snprintf(tok, sizeof tok, "%s.%s.", h, pl);
    assert_int_equal(verify(tok, &p, &why), ZT_ECRYPTO);
    snprintf(tok, sizeof tok, "%s.%s.c2ln", h, pl);
    assert_int_equal(verify(tok, &p, &why), ZT_ECRYPTO);
    assert_string_equal(why, "algorithm not accepted (HS256 only)");
    /* HS512 signed with the right secret: not the configured algorithm */
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    assert_int_equal(jwt_add_grants_json(j, "{\"sub\":\"eve\",\"role\":\"admin\",\"iss\":\"zentalk-api\","
                                            "\"aud\":\"zentalk-ai\",\"exp\":1800000600}"),
                     0);
    assert_int_equal(jwt_set_alg(j, JWT_ALG_HS512, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
    char *t = jwt_encode_str(j);
    jwt_free(j);
    assert_int_equal(verify(t, &p, &why), ZT_ECRYPTO);
    assert_string_equal(why, "algorithm not accepted (HS256 only)");
    free(t);
    /* RS256 header with junk signature, alg missing, header not JSON */
    b64("{\"alg\":\"RS256\"}", h, sizeof h);
    snprintf(tok, sizeof tok, "%s.%s.c2ln", h, pl);
    assert_int_equal(verify(tok, &p, &why), ZT_ECRYPTO);
    b64("{\"typ\":\"JWT\"}", h, sizeof h);
    snprintf(tok, sizeof tok, "%s.%s.c2ln", h, pl);
    assert_int_equal(verify(tok, &p, &why), ZT_ECRYPTO);
    b64("[1]", h, sizeof h);
    snprintf(tok, sizeof tok, "%s.%s.c2ln", h, pl);
    assert_int_equal(verify(tok, &p, &why), ZT_ECRYPTO);
    /* crit header */
    b64("{\"alg\":\"HS256\",\"crit\":[\"x\"]}", h, sizeof h);
    snprintf(tok, sizeof tok, "%s.%s.c2ln", h, pl);
    assert_int_equal(verify(tok, &p, &why), ZT_ECRYPTO);
    /* empty secret: programmer/config error */
    assert_int_equal(zt_auth_verify("", ISS, AUD, tok, strlen(tok), NOW, &p, &why), ZT_EINVAL);
}

static void test_tampered_payload(void **state)
{
    (void)state;
    struct claims c = good();
    char *t = mint(SECRET, &c);
    char pl[256], tok[1024];
    b64("{\"sub\":\"alice\",\"role\":\"admin\",\"iss\":\"zentalk-api\",\"aud\":\"zentalk-ai\",\"exp\":1800000600}",
        pl, sizeof pl);
    const char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
    snprintf(tok, sizeof tok, "%.*s.%s%s", (int)(d1 - t), t, pl, d2);
    struct zt_auth_principal p;
    const char *why;
    assert_int_equal(verify(tok, &p, &why), ZT_ECRYPTO);
    assert_string_equal(why, "bad signature");
    /* flipped signature character */
    zt_strlcpy(tok, t, sizeof tok);
    size_t n = strlen(tok);
    tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(tok, &p, &why), ZT_ECRYPTO);
    /* truncated signature, extra segment */
    zt_strlcpy(tok, t, sizeof tok);
    tok[n - 4] = '\0';
    assert_int_equal(verify(tok, &p, &why), ZT_ECRYPTO);
    snprintf(tok, sizeof tok, "%s.AAAA", t);
    assert_int_equal(verify(tok, &p, &why), ZT_ECRYPTO);
    free(t);
}

static void test_parse_header(void **state)
{
    (void)state;
    const char *tok;
    size_t len;
    assert_int_equal(zt_auth_parse_header("Bearer aaa.bbb.ccc", &tok, &len), 0);
    assert_int_equal(len, 11);
    assert_memory_equal(tok, "aaa.bbb.ccc", 11);
    assert_int_equal(zt_auth_parse_header("bearer a-_.b.c", &tok, &len), 0);
    assert_int_equal(zt_auth_parse_header("BEARER a.b.c", &tok, &len), 0);
    static const char *const bad[] = {
        "", "Bearer", "Bearer ", "Bearer  a.b.c", "Basic dXNlcjpwYXNz", "Bearer a.b", "Bearer a.b.c.d",
        "Bearer .b.c", "Bearer a..c", "Bearer a.b.", "Bearer a.b.c ", "Bearer a.b.c,Bearer a.b.c",
        "Bearer a.b.c d.e.f", "Bearer a+b.c.d", "Bearer a.b.c=", "Bearera.b.c", "Token a.b.c",
        "Bearer\ta.b.c", " Bearer a.b.c", "Bearer a.b.c\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (zt_auth_parse_header(bad[i], &tok, &len) != ZT_EPARSE) fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(zt_auth_parse_header(NULL, &tok, &len), ZT_EPARSE);

    /* oversized: a header of 8 KiB + 1 is refused, 8 KiB accepted */
    size_t n = ZT_AUTH_MAX_HEADER + 1;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', n - 7);
    big[20] = '.';
    big[30] = '.';
    big[n] = '\0';
    assert_int_equal(zt_auth_parse_header(big, &tok, &len), ZT_EPARSE);
    big[n - 1] = '\0';
    assert_int_equal(zt_auth_parse_header(big, &tok, &len), 0);
    struct zt_auth_principal p;
    const char *why;
    assert_int_equal(zt_auth_verify(SECRET, ISS, AUD, big, n, NOW, &p, &why), ZT_ETOOBIG);
    assert_int_equal(zt_auth_verify(SECRET, ISS, AUD, tok, len, NOW, &p, &why), ZT_ECRYPTO);
    free(big);
}

#define SEC ((uint64_t)1000000000)

static void test_ratelimit_bucket(void **state)
{
    (void)state;
    struct zt_ratelimit *rl = NULL;
    assert_int_equal(zt_ratelimit_new(2, 4, 16, &rl), 0);
    uint64_t t = 1000 * SEC;
    unsigned retry = 0;
    for (int i = 0; i < 4; i++) assert_true(zt_ratelimit_take(rl, "a", t, &retry)); /* burst */
    assert_false(zt_ratelimit_take(rl, "a", t, &retry));
    assert_int_equal(retry, 1); /* 2 per second: next token in 0.5 s, rounded up */
    assert_true(zt_ratelimit_take(rl, "b", t, &retry)); /* other keys are separate */
    assert_false(zt_ratelimit_take(rl, "a", t + SEC / 4, &retry));
    assert_true(zt_ratelimit_take(rl, "a", t + SEC / 2, &retry)); /* one token refilled */
    assert_false(zt_ratelimit_take(rl, "a", t + SEC / 2, &retry));
    /* a long pause refills only up to the burst */
    t += 100 * SEC;
    for (int i = 0; i < 4; i++) assert_true(zt_ratelimit_take(rl, "a", t, &retry));
    assert_false(zt_ratelimit_take(rl, "a", t, &retry));
    /* a clock going backwards adds nothing */
    assert_false(zt_ratelimit_take(rl, "a", t - 50 * SEC, &retry));
    zt_ratelimit_free(rl);

    /* slow rate: Retry-After counts whole seconds */
    assert_int_equal(zt_ratelimit_new(0.1, 1, 4, &rl), 0);
    assert_true(zt_ratelimit_take(rl, "a", t, &retry));
    assert_false(zt_ratelimit_take(rl, "a", t, &retry));
    assert_int_equal(retry, 10);
    assert_false(zt_ratelimit_take(rl, "a", t + 4 * SEC, &retry));
    assert_int_equal(retry, 6);
    zt_ratelimit_free(rl);

    /* rps 0: off */
    assert_int_equal(zt_ratelimit_new(0, 1, 4, &rl), 0);
    for (int i = 0; i < 1000; i++) assert_true(zt_ratelimit_take(rl, "a", t, &retry));
    zt_ratelimit_free(rl);
    zt_ratelimit_free(NULL);
    assert_int_equal(zt_ratelimit_new(1, 0, 4, &rl), ZT_EINVAL);
    assert_int_equal(zt_ratelimit_new(1, 1, 0, &rl), ZT_EINVAL);
}

/* Every allocation of the limiter failing in turn: ZT_ENOMEM, nothing
 * handed out and nothing leaked, then it is built. */
static void test_ratelimit_alloc_failures(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    int failed = 0;
    for (int64_t n = 1; n < 16; n++) {
        struct zt_ratelimit *rl = NULL;
        zt_alloc_fail_after(n);
        int rc = zt_ratelimit_new(2, 4, 16, &rl);
        zt_alloc_fail_after(0);
        if (rc == 0) {
            assert_non_null(rl);
            zt_ratelimit_free(rl);
            break;
        }
        assert_int_equal(rc, ZT_ENOMEM);
        assert_null(rl);
        assert_int_equal(zt_alloc_live(), live);
        failed++;
    }
    assert_true(failed >= 2); /* the object, its entries (and the index) */
    assert_int_equal(zt_alloc_live(), live);
}

static void test_ratelimit_lru(void **state)
{
    (void)state;
    struct zt_ratelimit *rl = NULL;
    assert_int_equal(zt_ratelimit_new(1, 1, 3, &rl), 0);
    uint64_t t = SEC;
    unsigned retry;
    assert_true(zt_ratelimit_take(rl, "a", t, &retry));
    assert_true(zt_ratelimit_take(rl, "b", t, &retry));
    assert_true(zt_ratelimit_take(rl, "c", t, &retry));
    assert_false(zt_ratelimit_take(rl, "a", t, &retry)); /* a is now most recent */
    assert_true(zt_ratelimit_take(rl, "d", t, &retry));  /* evicts b, the least recent */
    assert_int_equal(zt_ratelimit_size(rl), 3);
    assert_false(zt_ratelimit_take(rl, "a", t, &retry)); /* a kept its empty bucket */
    assert_true(zt_ratelimit_take(rl, "b", t, &retry));  /* b starts afresh (evicts c) */
    assert_true(zt_ratelimit_take(rl, "c", t, &retry));  /* c too (evicts d) */
    assert_false(zt_ratelimit_take(rl, "b", t, &retry));
    /* many keys through a small table stay bounded and consistent */
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "k%d", i % 7);
        (void)zt_ratelimit_take(rl, k, t + (uint64_t)i * SEC, &retry);
    }
    assert_int_equal(zt_ratelimit_size(rl), 3);
    zt_ratelimit_free(rl);

    /* a full 10k table */
    assert_int_equal(zt_ratelimit_new(20, 40, 10000, &rl), 0);
    for (int i = 0; i < 25000; i++) {
        snprintf(k, sizeof k, "user-%d", i);
        assert_true(zt_ratelimit_take(rl, k, t, &retry));
    }
    assert_int_equal(zt_ratelimit_size(rl), 10000);
    zt_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_token),      cmocka_unit_test(test_claim_rejections),
        cmocka_unit_test(test_audience_array),  cmocka_unit_test(test_alg_none_and_others),
        cmocka_unit_test(test_tampered_payload), cmocka_unit_test(test_parse_header),
        cmocka_unit_test(test_ratelimit_bucket), cmocka_unit_test(test_ratelimit_lru),
        cmocka_unit_test(test_ratelimit_alloc_failures),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
