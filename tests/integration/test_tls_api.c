/* test_tls_api: the HTTPS listener and public-key API tokens, black-box.
 *
 *  - a self-signed certificate made here with openssl (run directly, no
 *    shell); the node started with server.tls_cert_file/tls_key_file
 *    answers https with that CA, refuses a client that does not trust it,
 *    and plain http to the port gets no HTTP answer;
 *  - a key that is not the certificate's, a missing file, a cert without
 *    key: the node refuses to start and says why;
 *  - encryption.jwt_public_key_file with an Ed25519 key (EdDSA tokens
 *    signed here with libsodium) and with an RSA key (RS256 via libjwt):
 *    the right token is admin, a token signed by another key is 401. */
#include <curl/curl.h>
#include <fcntl.h>
#include <jwt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "zentalk/zt_str.h"

static char dir[64];

/* Run argv (no shell); its exit status. */
static int run(const char *const *argv)
{
    return run_prog(argv[0], argv + 1, NULL, NULL, NULL, RUN_QUIET);
}

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void make_cert(const char *cert, const char *key)
{
    char c[128], k[128];
    path_of(c, sizeof c, cert);
    path_of(k, sizeof k, key);
    const char *const argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                "-nodes", "-keyout", k, "-out", c, "-days", "1", "-subj", "/CN=localhost",
                                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", NULL};
    assert_int_equal(run(argv), 0);
}

static bool have_openssl;

static int setup(void **state)
{
    (void)state;
    tmp_dir(dir, sizeof dir, "tls");
    have_openssl = zt_test_have_program("openssl");
    if (!have_openssl) return 0; /* each test skips, saying why */
    make_cert("cert.pem", "key.pem");
    make_cert("other-cert.pem", "other-key.pem");
    return 0;
}

/* First line of every test: the certificates and keys are made with openssl. */
#define NEED_OPENSSL()                                                                       \
    do {                                                                                     \
        if (!have_openssl) zt_skip("the openssl program is not installed (it makes the test certificates)"); \
    } while (0)

static int teardown(void **state)
{
    (void)state;
    rm_rf(dir);
    return 0;
}

/* Start a node with env; wait for its "listening on" line; port or 0 if it exited. */
static uint16_t start(struct node *n, const char *const *env, const char *scheme, struct zt_buf *err)
{
    uint16_t port = node_start(n, NULL, env, NULL, err);
    if (port) { /* listening, on the scheme expected */
        char want[64];
        snprintf(want, sizeof want, "%s://127.0.0.1:", scheme);
        assert_true(strncmp(n->url, want, strlen(want)) == 0);
    }
    return port;
}

static CURLcode get(const char *url, const char *ca, const char *auth, long *status)
{
    char line[2048];
    if (auth) snprintf(line, sizeof line, "Bearer %s", auth);
    struct http_opts o = {.url = url, .ca_file = ca, .auth = auth ? line : NULL, .timeout_ms = 20000, .body_max = 1u << 20};
    struct resp r;
    CURLcode rc = (CURLcode)http_req(0, "GET", NULL, &o, &r);
    *status = r.status;
    resp_free(&r);
    return rc;
}

static void test_https(void **state)
{
    (void)state;
    NEED_OPENSSL();
    char cert[128], key[128], ce[200], ke[200];
    path_of(cert, sizeof cert, "cert.pem");
    path_of(key, sizeof key, "key.pem");
    snprintf(ce, sizeof ce, "ZENTALK_SERVER_TLS_CERT_FILE=%s", cert);
    snprintf(ke, sizeof ke, "ZENTALK_SERVER_TLS_KEY_FILE=%s", key);
    const char *const env[] = {ce, ke, NULL};
    struct node n;
    struct zt_buf err;
    zt_buf_init(&err, 1 << 16);
    uint16_t port = start(&n, env, "https", &err);
    if (!port) fprintf(stderr, "node stderr: %s\n", zt_buf_str(&err));
    assert_true(port > 0);
    char url[128];
    long status;
    snprintf(url, sizeof url, "https://127.0.0.1:%u/healthz", port);
    assert_int_equal(get(url, cert, NULL, &status), CURLE_OK);
    assert_int_equal(status, 200);
    /* a client that does not trust this CA */
    char other[128];
    path_of(other, sizeof other, "other-cert.pem");
    assert_int_equal(get(url, other, NULL, &status), CURLE_PEER_FAILED_VERIFICATION);
    /* plain HTTP to the TLS port: no HTTP answer */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/healthz", port);
    CURLcode rc = get(url, NULL, NULL, &status);
    assert_true(rc != CURLE_OK || status == 0);
    assert_true(status != 200);
    node_cleanup(&n);
    rm_rf(n.dir);
    zt_buf_deinit(&err);
}

static void expect_refusal(const char *cert_name, const char *key_name, const char *needle)
{
    char cert[128], key[128], ce[200], ke[200];
    path_of(cert, sizeof cert, cert_name);
    path_of(key, sizeof key, key_name);
    snprintf(ce, sizeof ce, "ZENTALK_SERVER_TLS_CERT_FILE=%s", cert_name[0] ? cert : "");
    snprintf(ke, sizeof ke, "ZENTALK_SERVER_TLS_KEY_FILE=%s", key_name[0] ? key : "");
    const char *const env[] = {ce, ke, NULL};
    struct node n;
    struct zt_buf err;
    zt_buf_init(&err, 1 << 16);
    uint16_t port = start(&n, env, "https", &err);
    assert_int_equal(port, 0);
    if (!strstr(zt_buf_str(&err), needle)) fprintf(stderr, "stderr: %s (wanted %s)\n", zt_buf_str(&err), needle);
    assert_non_null(strstr(zt_buf_str(&err), needle));
    node_cleanup(&n);
    rm_rf(n.dir);
    zt_buf_deinit(&err);
}

static void test_bad_tls_files(void **state)
{
    (void)state;
    NEED_OPENSSL();
    expect_refusal("cert.pem", "other-key.pem", "does not belong to the certificate");
    expect_refusal("cert.pem", "missing.pem", "No such file");
    expect_refusal("cert.pem", "", "needs both");
    expect_refusal("key.pem", "key.pem", "not a PEM certificate");
}

static void b64url(const void *p, size_t n, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static char *eddsa_token(const uint8_t sk[64], const char *role)
{
    static char t[2048];
    char h[128], c[512], s[128], claims[256];
    const char *hdr = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}";
    snprintf(claims, sizeof claims, "{\"sub\":\"ops\",\"role\":\"%s\",\"iss\":\"zentalk-api\",\"aud\":\"zentalk-ai\",\"exp\":%lld}", role,
             (long long)(time(NULL) + 600));
    b64url(hdr, strlen(hdr), h, sizeof h);
    b64url(claims, strlen(claims), c, sizeof c);
    snprintf(t, sizeof t, "%s.%s", h, c);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, (const uint8_t *)t, strlen(t), sk);
    b64url(sig, sizeof sig, s, sizeof s);
    strncat(t, ".", sizeof t - strlen(t) - 1);
    strncat(t, s, sizeof t - strlen(t) - 1);
    return t;
}

static void test_eddsa_and_rs256_tokens(void **state)
{
    (void)state;
    NEED_OPENSSL();
    assert_true(sodium_init() >= 0);
    uint8_t pk[32], sk[64], pk2[32], sk2[64];
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    static const uint8_t prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    uint8_t der[44];
    memcpy(der, prefix, 12);
    memcpy(der + 12, pk, 32);
    char b64[80], pem[256];
    sodium_bin2base64(b64, sizeof b64, der, sizeof der, sodium_base64_VARIANT_ORIGINAL);
    snprintf(pem, sizeof pem, "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", b64);
    put_file(dir, "ed.pem", pem);
    char path[128], e1[200];
    path_of(path, sizeof path, "ed.pem");
    snprintf(e1, sizeof e1, "ZENTALK_ENCRYPTION_JWT_PUBLIC_KEY_FILE=%s", path);
    const char *const env[] = {e1, NULL};
    struct node n;
    uint16_t port = start(&n, env, "http", NULL);
    assert_true(port > 0);
    char url[128];
    long status;
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/admin/status", port);
    assert_int_equal(get(url, NULL, eddsa_token(sk, "admin"), &status), CURLE_OK);
    assert_int_equal(status, 200);
    assert_int_equal(get(url, NULL, eddsa_token(sk, "user"), &status), CURLE_OK);
    assert_int_equal(status, 403);
    assert_int_equal(get(url, NULL, eddsa_token(sk2, "admin"), &status), CURLE_OK);
    assert_int_equal(status, 401);
    assert_int_equal(get(url, NULL, NULL, &status), CURLE_OK);
    assert_int_equal(status, 403); /* with a key configured, anonymous loopback is no longer admin */
    node_cleanup(&n);
    rm_rf(n.dir);

    /* RS256: an RSA key made with openssl, tokens signed with libjwt */
    char priv[128], pub[128];
    path_of(priv, sizeof priv, "rsa.pem");
    path_of(pub, sizeof pub, "rsa-pub.pem");
    const char *const gen[] = {"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                               "-out", priv, NULL};
    assert_int_equal(run(gen), 0);
    const char *const out[] = {"openssl", "pkey", "-in", priv, "-pubout", "-out", pub, NULL};
    assert_int_equal(run(out), 0);
    FILE *f = fopen(priv, "r");
    assert_non_null(f);
    char key[8192];
    size_t kl = fread(key, 1, sizeof key - 1, f);
    fclose(f);
    key[kl] = '\0';
    snprintf(e1, sizeof e1, "ZENTALK_ENCRYPTION_JWT_PUBLIC_KEY_FILE=%s", pub);
    port = start(&n, env, "http", NULL);
    assert_true(port > 0);
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    char claims[256];
    snprintf(claims, sizeof claims, "{\"sub\":\"ops\",\"role\":\"admin\",\"iss\":\"zentalk-api\",\"aud\":\"zentalk-ai\",\"exp\":%lld}", (long long)(time(NULL) + 600));
    assert_int_equal(jwt_add_grants_json(j, claims), 0);
    assert_int_equal(jwt_set_alg(j, JWT_ALG_RS256, (const unsigned char *)key, (int)kl), 0);
    char *tok = jwt_encode_str(j);
    assert_non_null(tok);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/admin/status", port);
    assert_int_equal(get(url, NULL, tok, &status), CURLE_OK);
    assert_int_equal(status, 200);
    /* the public key as an HS256 secret (alg confusion) */
    FILE *pf = fopen(pub, "r");
    assert_non_null(pf);
    char pubtext[4096];
    size_t pl = fread(pubtext, 1, sizeof pubtext - 1, pf);
    fclose(pf);
    jwt_t *j2 = NULL;
    assert_int_equal(jwt_new(&j2), 0);
    assert_int_equal(jwt_add_grants_json(j2, claims), 0);
    assert_int_equal(jwt_set_alg(j2, JWT_ALG_HS256, (const unsigned char *)pubtext, (int)pl), 0);
    char *tok2 = jwt_encode_str(j2);
    assert_int_equal(get(url, NULL, tok2, &status), CURLE_OK);
    assert_int_equal(status, 401);
    free(tok);
    free(tok2);
    jwt_free(j);
    jwt_free(j2);
    node_cleanup(&n);
    rm_rf(n.dir);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_tls_api ZENTALK_NODE [ZENTALK]\n");
        return 2;
    }
    node_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https),
        cmocka_unit_test(test_bad_tls_files),
        cmocka_unit_test(test_eddsa_and_rs256_tokens),
    };
    int rc = cmocka_run_group_tests_name("tls", tests, setup, teardown);
    curl_global_cleanup();
    return zt_test_exit(rc);
}
