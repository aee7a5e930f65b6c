/* test_jwt_algs: API tokens signed RS256 (libjwt) and EdDSA (Ed25519,
 * RFC 8037, verified with libsodium) next to HS256: good, expired, wrong
 * audience, wrong key, alg "none", algorithms not allowed, and alg
 * confusion (an RSA or Ed25519 public key used as an HS256 secret), plus
 * PEM key parsing (SubjectPublicKeyInfo Ed25519 / RSA; PKCS#1, EC and
 * garbage refused). The RSA keys below are test keys made for this file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_auth.h"
#include "zentalk/zt_alloc.h"
#include "zt_test.h"

#define NOW 1767225600
#define ISS "zentalk-api"
#define AUD "zentalk-ai"
#define SECRET "hs256-test-secret-0123456789abcdef"

static const char RSA1_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDbEJDqvrVAsLlT\n"
    "UIf6LAWyfCFkuWG1XgbqcRp5Pi0w8VfaS7CWbxOtnLpn4t2GEv8g0zwbsy2SsrHG\n"
    "xXSBxF7npsRuhHwPx+OgdG92HTRxiU36M5HPuqPF5UmDpNo6yDi6z4nLEI0Wp2zj\n"
    "zQruFKY09cx1f1ysxjB86rXx182nY8pmIoB2+1cP8OgBb5qUnWShU7AD0urN7ZxE\n"
    "lB9ckWuTZiP02y0kuJUzdH/gTwRdcUjDz2Zi8Bgrsnzwnfic3bIBer/oVYKZLA9p\n"
    "jJMAxBazBxp2UbA06HP5vpcNegIug9TlTaqcTHtgJntnCbENCRLt8nKIPDFC+BDp\n"
    "mbqcNd0LAgMBAAECggEAHLD5Qf2TULM0uqBABviQEHXoi8Ap926mujrxDDMkCRZ6\n"
    "+qjSKonGyoTN90BD4kUHrD1uUHRxwhZsaUvAPCTDh1SUwqLQeuKjwgat+IrPrRUe\n"
    "JOhvLwVTYN5sd/T17h/+Kh13fySeTfrErLtUtKT4tdQBoNv6/9f/TsUQ6mlo0oTl\n"
    "xmcPR40J1CLIgKYp6vEQW3Tcnb0KQHr8dlld/bRw+ktRecxGJPFW51aumcGsTwEF\n"
    "I8zxvWTw05y+3GCtM4jRYK4sl2szF3iSuzU+KemJ6LL2ShWwrd9i/YVSYUuA6Qyc\n"
    "pE7TMl6XM4nitK/BINomaoV8ei/vgo3Ok5brdwN3DQKBgQD5WNhXtIP4CaylbeTc\n"
    "EV8kQYd/ckAveqkWM0YzNuHHUZFt6gUEbTWyPh2htWkM8Mo9jVfpFTLhOmR3Kzfr\n"
    "f8l5jbfkpKDFt5hjAXtvM6C+XRmYVmzfNOosFh1Lqq7RAXw2PwqIDPbv3Ehu9jXw\n"
    "l4sID0dpQvTKTeBTD3awaMXbfQKBgQDg6ODygVl9j0rvyPuZRf+vcM5Zj0WioTy2\n"
    "Gum7M+obgQkTPa4fBHHJZK/pQ6E0LAcPXR30YinjnGRNaABoCu4bcqBTi2klmvoZ\n"
    "qSj5PKV9hRls6vh2hmVrKNvUDc/S3mV45NIKLCTHkC6v7CdAX66mDqx/ZqPxNb4/\n"
    "smVHX5CxJwKBgQD3xKLlM8jW1bYqhDKfwttJiZv8tii1hSszliuxhF2B07mxAJOP\n"
    "vH1Y6oRDRaJna3VrCGJMh/YQ/BcMm3NrnYU0NfB/UF85WKAh8T0YWLLntldSmr6A\n"
    "ZXIz8J2XrLkdkl49AROT8V4HJlsLd7hNpChRD+2j2RapWA0KPBlyXgoNeQKBgFaD\n"
    "HawKd1rl2IRdwfHWTCC2+pjWlImXDdxag9efg4iq3MvK6QRDWGWIVmYavpJr8RdG\n"
    "0TPk4ooL6UUhIS7kLWzfba5VLM/rShK+z+T3IA0lOn977rDgx3gt0klCOtO4+j1D\n"
    "f0usaUVeP6cp5ntLksmLUWz8FUm+S30C6RRIPUb3AoGAc3q5B1zN33hlYlfOMjZc\n"
    "zPhEOIP2pKaBhIFqikRuxqoUvicx+uKg+fKy/LOfbc+d9if7Rta4sVbmsyDzB91P\n"
    "WPT4dqNEmZjnHksbBD2AVoUsTh18zifOnETPywH4WcK0JznMNXDHG3YcGZfmRCpA\n"
    "+9qQkaZlMOyfokEiEs7AwaA=\n"
    "-----END PRIVATE KEY-----\n";
static const char RSA1_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2xCQ6r61QLC5U1CH+iwF\n"
    "snwhZLlhtV4G6nEaeT4tMPFX2kuwlm8TrZy6Z+LdhhL/INM8G7MtkrKxxsV0gcRe\n"
    "56bEboR8D8fjoHRvdh00cYlN+jORz7qjxeVJg6TaOsg4us+JyxCNFqds480K7hSm\n"
    "NPXMdX9crMYwfOq18dfNp2PKZiKAdvtXD/DoAW+alJ1koVOwA9Lqze2cRJQfXJFr\n"
    "k2Yj9NstJLiVM3R/4E8EXXFIw89mYvAYK7J88J34nN2yAXq/6FWCmSwPaYyTAMQW\n"
    "swcadlGwNOhz+b6XDXoCLoPU5U2qnEx7YCZ7ZwmxDQkS7fJyiDwxQvgQ6Zm6nDXd\n"
    "CwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";
static const char RSA2_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC5qB3XxNW+3mfP\n"
    "02rqVVW4wysgHAeZMI5lvqK2SNTJVIAt2jokDEaIAgX4vySmov+p5xoZH9MMhLLk\n"
    "9maXAPrbOaJoGWQmKIlTfhOBf4QFOCmDthxWZkI3/OlGJKvo/jaf9vt2FOHmueIr\n"
    "aWDzTwNxFkdISkPXwM+s1XoL0fjpE86I2Lunvo1a+YWUOKsSAFVtqTiIU3lluMqV\n"
    "XGiriRjJlSUTXF+91FImnt4RiEmrx72LqMLwRVRgzXWFoihEAbeMA2C0H/0l5MSn\n"
    "ED1sSd1p2er6dPFpeDCTgHueLQUmZ7n5ZfOk3sreCGJvdy1WtWlqR7dynd67UD4G\n"
    "faIbfEa/AgMBAAECggEADKoNoxbPt83nCfOzgtmgV9KkYfPXhtkblZAr/EA6l6M2\n"
    "fSo6NhRKSWPN8XpkbyOGSho0GwujM2Ln6xttwxYzhnnHfM9imAHC4FmkzfwbTtnW\n"
    "ZyAojbI7CSOs6/Z7bZDNvBq2a4cgI8OBTJHLJb25j+DDqwg52YFTCUikoyLHFmsA\n"
    "N7I0uRLQ5AyG6HYU4kCE3OXbryJ+Cmr/N1HLrVb3+YZFYh9dQWPWZ7cj/j1IHziM\n"
    "ASFbytCi84RKQERgVzJ6l6JNmMIOz7IqTf4NpJGFfQVwAQTVAzVDyoPprYNKBQ5o\n"
    "XSmQ6iLNBlLkxE/uC4ZEZVS6SGJEw8waZ87LXnUpBQKBgQDeJK3HVll4XKNJ0FYb\n"
    "WfA8SxiZnJfntK9EREQ6c/bTwoiuPBfMTEKlkqq54qTH7VRAg2aC0S55t1wsfVPT\n"
    "zDlrS5gboG4tWnmSymjVLAYIl2nssmLCRS9HWYfbQuHnEE9S+Be62wTKyaz9uKqG\n"
    "6koZ8dHEsn1wBJmG+LIqZRFqlQKBgQDV89koLvK6LhmX0XUNZR8CSpR7Pt7OI57y\n"
    "uoRwWX365jjgwd2QgjLxLXKu+FQnUtAvtx+GLKLoSDGmOg+0jZxGD4V0fP6oCeU5\n"
    "lWWLqXqLSs+uMy3P91hYBE2JzHpqfFhJBfKuMoSyKhCZ30Yk+u6fO+zhMU5+OoPa\n"
    "Th6pmp0rAwKBgQCjWdVv/89K8tQgM1MeScSekZpFWyFZAUTgrlJ9qUiX7zUS6p2V\n"
    "XX6kwnVIu6DwY1TRG88F40yJtIvTK1W5KTQP8kaoChD6yM0dZDoyh2zoZG8/3u1A\n"
    "bh+WGAAO+9+iShwKpuTMQsIDXMoYyPKcwyw6Z9gZDCexd7Btz/MzuZ5VAQKBgEod\n"
    "yjl4Yg+LDsSgA8ubHy3dBijXs7l3b4WohV6iMdkrzcJWhlmcMOeJlfP1BLoGnyYY\n"
    "auxBJEIRWFm8PVqPv/YpRFMBRfqSSv0yutWx5UjBpsYy5ojnp4v+GZpF4pZm8vKB\n"
    "A/vCdmN93Phg91yyLN2ulbXBLe7eeHS0oTyh2hZfAoGATLak/qmtF10TFOd59cDs\n"
    "dZrLkWzBOCf8+IIL+Pp8GBucbM20er4Edsj1bqF/KH55W2xM+hYsonz/ZO3RUsr9\n"
    "Gv08hMHaCxCOEWvXLFY6DejIn10VrcaCBNNlKG7E5uc9Mh0+Ft9ecAM90yz/cZwN\n"
    "a5ecb3VIQVbHix/FWkYENF0=\n"
    "-----END PRIVATE KEY-----\n";
static const char RSA2_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuagd18TVvt5nz9Nq6lVV\n"
    "uMMrIBwHmTCOZb6itkjUyVSALdo6JAxGiAIF+L8kpqL/qecaGR/TDISy5PZmlwD6\n"
    "2zmiaBlkJiiJU34TgX+EBTgpg7YcVmZCN/zpRiSr6P42n/b7dhTh5rniK2lg808D\n"
    "cRZHSEpD18DPrNV6C9H46RPOiNi7p76NWvmFlDirEgBVbak4iFN5ZbjKlVxoq4kY\n"
    "yZUlE1xfvdRSJp7eEYhJq8e9i6jC8EVUYM11haIoRAG3jANgtB/9JeTEpxA9bEnd\n"
    "adnq+nTxaXgwk4B7ni0FJme5+WXzpN7K3ghib3ctVrVpake3cp3eu1A+Bn2iG3xG\n"
    "vwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";
static const char EC_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEO/injzGw2+3vCC9G3mijTJFUvEo9\n"
    "GotVQWqEok4xDRd8S+mHlOf/h/JgK4ujFH6Y5IHVgZjv/d3q1nn4qrtyWw==\n"
    "-----END PUBLIC KEY-----\n";
static const char RSA1_PKCS1[] =
    "-----BEGIN RSA PUBLIC KEY-----\n"
    "MIIBCgKCAQEA2xCQ6r61QLC5U1CH+iwFsnwhZLlhtV4G6nEaeT4tMPFX2kuwlm8T\n"
    "rZy6Z+LdhhL/INM8G7MtkrKxxsV0gcRe56bEboR8D8fjoHRvdh00cYlN+jORz7qj\n"
    "xeVJg6TaOsg4us+JyxCNFqds480K7hSmNPXMdX9crMYwfOq18dfNp2PKZiKAdvtX\n"
    "D/DoAW+alJ1koVOwA9Lqze2cRJQfXJFrk2Yj9NstJLiVM3R/4E8EXXFIw89mYvAY\n"
    "K7J88J34nN2yAXq/6FWCmSwPaYyTAMQWswcadlGwNOhz+b6XDXoCLoPU5U2qnEx7\n"
    "YCZ7ZwmxDQkS7fJyiDwxQvgQ6Zm6nDXdCwIDAQAB\n"
    "-----END RSA PUBLIC KEY-----\n";

static uint8_t ed_pk[32], ed_sk[64], ed2_pk[32], ed2_sk[64];
static char ed_pem[256], ed2_pem[256];

static void pem_of(const uint8_t pk[32], char *out, size_t n)
{
    static const uint8_t prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    uint8_t der[44];
    memcpy(der, prefix, 12);
    memcpy(der + 12, pk, 32);
    char b64[80];
    sodium_bin2base64(b64, sizeof b64, der, sizeof der, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, n, "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", b64);
}

static int setup(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    uint8_t seed[32];
    memset(seed, 7, sizeof seed);
    crypto_sign_seed_keypair(ed_pk, ed_sk, seed);
    memset(seed, 8, sizeof seed);
    crypto_sign_seed_keypair(ed2_pk, ed2_sk, seed);
    pem_of(ed_pk, ed_pem, sizeof ed_pem);
    pem_of(ed2_pk, ed2_pem, sizeof ed2_pem);
    return 0;
}

static char *claims(int64_t exp, const char *aud)
{
    static char c[512];
    snprintf(c, sizeof c, "{\"sub\":\"alice\",\"role\":\"user\",\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld}", ISS, aud,
             (long long)exp);
    return c;
}

/* HS256 / RS256 / none through libjwt (free with free()). */
static char *libjwt_token(jwt_alg_t alg, const char *key, const char *claims_json)
{
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    assert_int_equal(jwt_add_grants_json(j, claims_json), 0);
    assert_int_equal(jwt_set_alg(j, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0), 0);
    char *t = jwt_encode_str(j);
    assert_non_null(t);
    jwt_free(j);
    return t;
}

static void b64url(const void *p, size_t n, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* EdDSA by hand: header JSON as given, claims, Ed25519 with sk. */
static char *eddsa_token(const char *header_json, const char *claims_json, const uint8_t sk[64])
{
    static char t[4096];
    char h[512], c[1024], s[128];
    b64url(header_json, strlen(header_json), h, sizeof h);
    b64url(claims_json, strlen(claims_json), c, sizeof c);
    snprintf(t, sizeof t, "%s.%s", h, c);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, (const uint8_t *)t, strlen(t), sk);
    b64url(sig, sizeof sig, s, sizeof s);
    strncat(t, ".", sizeof t - strlen(t) - 1);
    strncat(t, s, sizeof t - strlen(t) - 1);
    return t;
}

static struct zt_auth_keys keys_with(const char *pem, const char *secret, unsigned algs)
{
    struct zt_auth_keys k;
    zt_auth_keys_init(&k);
    if (pem) {
        const char *why = NULL;
        assert_int_equal(zt_auth_keys_set_pem(&k, pem, strlen(pem), &why), 0);
    }
    k.hs_secret = secret;
    k.algs = algs;
    return k;
}

#define ALL (ZT_AUTH_ALG_HS256 | ZT_AUTH_ALG_RS256 | ZT_AUTH_ALG_EDDSA)

static int check(const struct zt_auth_keys *k, const char *tok, const char **why)
{
    struct zt_auth_principal p;
    memset(&p, 0, sizeof p);
    *why = NULL;
    int rc = zt_auth_verify_keys(k, ISS, AUD, tok, strlen(tok), NOW, &p, why);
    if (rc == 0) {
        assert_string_equal(p.identity, "alice");
        assert_int_equal(p.role, ZT_AUTH_USER);
    } else {
        assert_non_null(why);
    }
    return rc;
}

static void test_rs256(void **state)
{
    (void)state;
    const char *why;
    struct zt_auth_keys k = keys_with(RSA1_PUB, NULL, ALL);
    assert_non_null(k.rsa_pem);
    assert_false(k.has_ed25519);
    char *good = libjwt_token(JWT_ALG_RS256, RSA1_PRIV, claims(NOW + 600, AUD));
    assert_int_equal(check(&k, good, &why), 0);
    char *expired = libjwt_token(JWT_ALG_RS256, RSA1_PRIV, claims(NOW - 600, AUD));
    assert_int_equal(check(&k, expired, &why), ZT_ECRYPTO);
    assert_string_equal(why, "expired");
    char *aud = libjwt_token(JWT_ALG_RS256, RSA1_PRIV, claims(NOW + 600, "someone-else"));
    assert_int_equal(check(&k, aud, &why), ZT_ECRYPTO);
    assert_string_equal(why, "wrong audience");
    char *other = libjwt_token(JWT_ALG_RS256, RSA2_PRIV, claims(NOW + 600, AUD));
    assert_int_equal(check(&k, other, &why), ZT_ECRYPTO);
    assert_string_equal(why, "bad signature");
    struct zt_auth_keys k4 = keys_with(RSA2_PUB, NULL, ALL); /* the other key pair's public half */
    assert_int_equal(check(&k4, good, &why), ZT_ECRYPTO);
    assert_int_equal(check(&k4, other, &why), 0);
    zt_auth_keys_deinit(&k4);
    /* RS256 not in the allowed list */
    struct zt_auth_keys k2 = keys_with(RSA1_PUB, NULL, ZT_AUTH_ALG_EDDSA);
    assert_int_equal(zt_auth_verify_keys(&k2, ISS, AUD, good, strlen(good), NOW, &(struct zt_auth_principal){0}, &why),
                     ZT_EINVAL); /* nothing usable at all */
    struct zt_auth_keys k3 = keys_with(RSA1_PUB, SECRET, ZT_AUTH_ALG_HS256);
    assert_int_equal(check(&k3, good, &why), ZT_ECRYPTO);
    assert_non_null(strstr(why, "algorithm not accepted"));
    free(good);
    free(expired);
    free(aud);
    free(other);
    zt_auth_keys_deinit(&k);
    zt_auth_keys_deinit(&k2);
    zt_auth_keys_deinit(&k3);
}

static void test_eddsa(void **state)
{
    (void)state;
    const char *why;
    struct zt_auth_keys k = keys_with(ed_pem, NULL, ALL);
    assert_true(k.has_ed25519);
    assert_memory_equal(k.ed25519_pk, ed_pk, 32);
    const char *hdr = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}";
    assert_int_equal(check(&k, eddsa_token(hdr, claims(NOW + 600, AUD), ed_sk), &why), 0);
    assert_int_equal(check(&k, eddsa_token("{\"alg\":\"EdDSA\",\"kid\":\"k1\"}", claims(NOW + 600, AUD), ed_sk), &why), 0);
    assert_int_equal(check(&k, eddsa_token(hdr, claims(NOW - 600, AUD), ed_sk), &why), ZT_ECRYPTO);
    assert_string_equal(why, "expired");
    assert_int_equal(check(&k, eddsa_token(hdr, claims(NOW + 600, "x"), ed_sk), &why), ZT_ECRYPTO);
    assert_string_equal(why, "wrong audience");
    assert_int_equal(check(&k, eddsa_token(hdr, claims(NOW + 600, AUD), ed2_sk), &why), ZT_ECRYPTO);
    assert_string_equal(why, "bad signature");
    /* strict header: no key-fetching parameters, typ JWT only */
    assert_int_equal(check(&k, eddsa_token("{\"alg\":\"EdDSA\",\"jwk\":{\"kty\":\"OKP\"}}", claims(NOW + 600, AUD), ed_sk), &why),
                     ZT_ECRYPTO);
    assert_int_equal(check(&k, eddsa_token("{\"alg\":\"EdDSA\",\"typ\":\"JOSE+x\"}", claims(NOW + 600, AUD), ed_sk), &why),
                     ZT_ECRYPTO);
    assert_int_equal(check(&k, eddsa_token("{\"alg\":\"Ed25519\"}", claims(NOW + 600, AUD), ed_sk), &why), ZT_ECRYPTO);
    /* a flipped payload byte, a truncated signature */
    char t[4096];
    snprintf(t, sizeof t, "%s", eddsa_token(hdr, claims(NOW + 600, AUD), ed_sk));
    char *dot = strchr(t, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_int_equal(check(&k, t, &why), ZT_ECRYPTO);
    snprintf(t, sizeof t, "%s", eddsa_token(hdr, claims(NOW + 600, AUD), ed_sk));
    t[strlen(t) - 2] = '\0';
    assert_int_equal(check(&k, t, &why), ZT_ECRYPTO);
    /* EdDSA not allowed */
    struct zt_auth_keys k2 = keys_with(ed_pem, SECRET, ZT_AUTH_ALG_HS256);
    assert_int_equal(check(&k2, eddsa_token(hdr, claims(NOW + 600, AUD), ed_sk), &why), ZT_ECRYPTO);
    assert_non_null(strstr(why, "algorithm not accepted"));
    zt_auth_keys_deinit(&k);
    zt_auth_keys_deinit(&k2);
}

static void test_hs256_shares_claims(void **state)
{
    (void)state;
    const char *why;
    struct zt_auth_keys k = keys_with(ed_pem, SECRET, ALL);
    char *good = libjwt_token(JWT_ALG_HS256, SECRET, claims(NOW + 600, AUD));
    assert_int_equal(check(&k, good, &why), 0);
    char *expired = libjwt_token(JWT_ALG_HS256, SECRET, claims(NOW - 600, AUD));
    assert_int_equal(check(&k, expired, &why), ZT_ECRYPTO);
    assert_string_equal(why, "expired");
    char *aud = libjwt_token(JWT_ALG_HS256, SECRET, claims(NOW + 600, "x"));
    assert_int_equal(check(&k, aud, &why), ZT_ECRYPTO);
    assert_string_equal(why, "wrong audience");
    char *wrong = libjwt_token(JWT_ALG_HS256, "another-secret-0123456789abcdef", claims(NOW + 600, AUD));
    assert_int_equal(check(&k, wrong, &why), ZT_ECRYPTO);
    free(good);
    free(expired);
    free(aud);
    free(wrong);
    zt_auth_keys_deinit(&k);
}

static void test_alg_confusion_and_none(void **state)
{
    (void)state;
    const char *why;
    /* the RSA public key (what an attacker has) as an HS256 secret */
    char *conf = libjwt_token(JWT_ALG_HS256, RSA1_PUB, claims(NOW + 600, AUD));
    struct zt_auth_keys rsa_only = keys_with(RSA1_PUB, NULL, ALL);
    assert_int_equal(check(&rsa_only, conf, &why), ZT_ECRYPTO);
    struct zt_auth_keys rsa_and_hs = keys_with(RSA1_PUB, SECRET, ALL);
    assert_int_equal(check(&rsa_and_hs, conf, &why), ZT_ECRYPTO);
    assert_string_equal(why, "bad signature");
    /* the Ed25519 PEM as an HS256 secret */
    char *conf2 = libjwt_token(JWT_ALG_HS256, ed_pem, claims(NOW + 600, AUD));
    struct zt_auth_keys ed_only = keys_with(ed_pem, NULL, ALL);
    assert_int_equal(check(&ed_only, conf2, &why), ZT_ECRYPTO);
    /* an RS256 header with only an Ed25519 key, an EdDSA one with only RSA */
    char *rs = libjwt_token(JWT_ALG_RS256, RSA1_PRIV, claims(NOW + 600, AUD));
    assert_int_equal(check(&ed_only, rs, &why), ZT_ECRYPTO);
    assert_int_equal(check(&rsa_only, eddsa_token("{\"alg\":\"EdDSA\"}", claims(NOW + 600, AUD), ed_sk), &why),
                     ZT_ECRYPTO);
    /* alg none, for each key set */
    char *none = libjwt_token(JWT_ALG_NONE, NULL, claims(NOW + 600, AUD));
    char none_sig[4096];
    snprintf(none_sig, sizeof none_sig, "%sAAAA", none); /* the header parser wants 3 segments */
    const struct zt_auth_keys *sets[] = {&rsa_only, &rsa_and_hs, &ed_only};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(check(sets[i], none, &why), ZT_ECRYPTO);
        assert_int_equal(check(sets[i], none_sig, &why), ZT_ECRYPTO);
        assert_non_null(strstr(why, "algorithm not accepted"));
    }
    /* HS384 with the secret: not ours */
    char *hs384 = libjwt_token(JWT_ALG_HS384, SECRET, claims(NOW + 600, AUD));
    assert_int_equal(check(&rsa_and_hs, hs384, &why), ZT_ECRYPTO);
    free(conf);
    free(conf2);
    free(rs);
    free(none);
    free(hs384);
    zt_auth_keys_deinit(&rsa_only);
    zt_auth_keys_deinit(&rsa_and_hs);
    zt_auth_keys_deinit(&ed_only);
}

static void test_pem_parsing(void **state)
{
    (void)state;
    struct zt_auth_keys k;
    zt_auth_keys_init(&k);
    const char *why = NULL;
    assert_int_equal(zt_auth_keys_set_pem(&k, RSA1_PKCS1, strlen(RSA1_PKCS1), &why), ZT_EPARSE);
    assert_non_null(strstr(why, "PKCS#1"));
    assert_int_equal(zt_auth_keys_set_pem(&k, EC_PUB, strlen(EC_PUB), &why), ZT_EUNSUPPORTED);
    assert_int_equal(zt_auth_keys_set_pem(&k, "hello", 5, &why), ZT_EPARSE);
    const char *bad = "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n";
    assert_int_equal(zt_auth_keys_set_pem(&k, bad, strlen(bad), &why), ZT_EPARSE);
    const char *noend = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n";
    assert_int_equal(zt_auth_keys_set_pem(&k, noend, strlen(noend), &why), ZT_EPARSE);
    assert_false(k.has_ed25519);
    assert_null(k.rsa_pem);
    /* a PEM made by openssl (genpkey -algorithm ed25519; pkey -pubout) */
    static const char openssl_ed[] = "-----BEGIN PUBLIC KEY-----\n"
                                     "MCowBQYDK2VwAyEAmIuj+ePHWjpQpCO2sGEzju0WJDtfXdziMrMeZP1G+w4=\n"
                                     "-----END PUBLIC KEY-----\n";
    assert_int_equal(zt_auth_keys_set_pem(&k, openssl_ed, strlen(openssl_ed), &why), 0);
    static const uint8_t want[4] = {0x98, 0x8b, 0xa3, 0xf9};
    assert_memory_equal(k.ed25519_pk, want, 4);
    zt_auth_keys_deinit(&k);
    unsigned bit;
    assert_int_equal(zt_auth_alg_parse("EdDSA", &bit), 0);
    assert_int_equal(bit, ZT_AUTH_ALG_EDDSA);
    assert_int_equal(zt_auth_alg_parse("none", &bit), ZT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rs256),
        cmocka_unit_test(test_eddsa),
        cmocka_unit_test(test_hs256_shares_claims),
        cmocka_unit_test(test_alg_confusion_and_none),
        cmocka_unit_test(test_pem_parsing),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, setup, NULL));
}
