/* test_nodeauth: the peer registry (zt_peers.h) and signed node requests
 * (zt_nodeauth.h): known canonical strings, sign/verify, a tamper test per
 * header, body byte, path, method and receiver, the clock window, replays
 * and the bounded replay cache, malformed headers, and peers files with
 * expired, forged, duplicate and bad-endpoint descriptors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_peers.h"
#include "zt_test.h"

#define NOW 1767225600

static struct zt_identity *A, *B, *C; /* A signs, B receives, C is unregistered */

static struct zt_identity *fixed_identity(uint8_t fill)
{
    uint8_t seed[32], x[32];
    memset(seed, fill, sizeof seed);
    memset(x, (uint8_t)(fill + 1), sizeof x);
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_from_secret(seed, x, &id), 0);
    return id;
}

static char *desc(const struct zt_identity *id, const char *endpoint, int64_t expires)
{
    const char *roles[] = {"worker"};
    char *out = NULL;
    int rc = zt_identity_descriptor(id, roles, 1, NULL, 0, endpoint, expires, &out);
    assert_int_equal(rc, 0);
    char *copy = out;
    return copy;
}

static struct zt_peers *registry_of(const struct zt_identity *id)
{
    struct zt_peers *p;
    assert_int_equal(zt_peers_new(&p), 0);
    char *d = desc(id, "http://10.0.0.1:8080", NOW + 3600);
    char text[4096];
    snprintf(text, sizeof text, "[%s]", d);
    size_t kept = 0, dropped = 0;
    assert_int_equal(zt_peers_load_text(p, text, strlen(text), NOW, &kept, &dropped, NULL), 0);
    assert_int_equal(kept, 1);
    assert_int_equal(dropped, 0);
    zt_free(d);
    return p;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(zt_hash_init(), 0);
    zt_log_set_level(ZT_LOG_OFF);
    A = fixed_identity(1);
    B = fixed_identity(3);
    C = fixed_identity(5);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zt_identity_free(A);
    zt_identity_free(B);
    zt_identity_free(C);
    return 0;
}

static void test_canonical_known_answer(void **state)
{
    (void)state;
    uint8_t h[32];
    zt_sha256(h, "", 0);
    struct zt_buf b;
    zt_buf_init(&b, 4096);
    assert_int_equal(zt_nodeauth_canonical("zt1aizub4ibwtcvkirhee3zfsdhn36ekgqc", "zt1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                           "POST", "/v1/jobs/sealed?x=%20y", 1767225600,
                                           "00112233445566778899aabbccddeeff", h, &b),
                     0);
    assert_string_equal(zt_buf_str(&b), "zentalk-node-request-v1\n"
                                        "zt1aizub4ibwtcvkirhee3zfsdhn36ekgqc\n"
                                        "zt1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                                        "POST\n"
                                        "/v1/jobs/sealed?x=%20y\n"
                                        "1767225600\n"
                                        "00112233445566778899aabbccddeeff\n"
                                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* what cannot be canonical */
    const char *id = "zt1aizub4ibwtcvkirhee3zfsdhn36ekgqc";
    const char *n = "00112233445566778899aabbccddeeff";
    zt_buf_reset(&b);
    assert_int_equal(zt_nodeauth_canonical(id, id, "post", "/", 1, n, h, &b), ZT_EINVAL);
    assert_int_equal(zt_nodeauth_canonical(id, id, "POST", "x", 1, n, h, &b), ZT_EINVAL);
    assert_int_equal(zt_nodeauth_canonical(id, id, "POST", "/a b", 1, n, h, &b), ZT_EINVAL);
    assert_int_equal(zt_nodeauth_canonical(id, id, "POST", "/a\nb", 1, n, h, &b), ZT_EINVAL);
    assert_int_equal(zt_nodeauth_canonical(id, id, "POST", "/", 1, "00112233445566778899AABBCCDDEEFF", h, &b),
                     ZT_EINVAL);
    assert_int_equal(zt_nodeauth_canonical(id, "zt1", "POST", "/", 1, n, h, &b), ZT_EINVAL);
    assert_int_equal(b.len, 0);
    zt_buf_deinit(&b);
}

static int verify_h(struct zt_nodeauth_verifier *v, struct zt_peers *p, const char *self,
                    const struct zt_nodeauth_headers *h, const char *method, const char *target, const char *body,
                    int64_t now)
{
    struct zt_nodeauth_parsed np;
    int rc = zt_nodeauth_parse(h->node, h->date, h->nonce, h->sig, &np);
    if (rc) return rc;
    const char *why = NULL;
    rc = zt_nodeauth_verify(v, p, self, method, target, body, strlen(body), &np, now, &why);
    if (rc) assert_non_null(why);
    return rc;
}

static void test_sign_verify_and_tamper(void **state)
{
    (void)state;
    struct zt_peers *p = registry_of(A);
    struct zt_nodeauth_verifier *v;
    assert_int_equal(zt_nodeauth_verifier_new(64, &v), 0);
    const char *bid = zt_identity_id(B);
    struct zt_nodeauth_headers h, t;
    const char *body = "\x01\x02sealed envelope bytes";
    assert_int_equal(zt_nodeauth_sign(A, bid, "POST", "/v1/jobs/sealed", body, strlen(body), NOW, &h), 0);
    assert_string_equal(h.node, zt_identity_id(A));
    assert_string_equal(h.date, "1767225600");
    assert_int_equal(strlen(h.nonce), 32);
    assert_int_equal(strlen(h.sig), 88);

    /* tampering with anything fails (before the genuine one is used) */
    char buf[128];
    t = h; /* node: another registered-looking id */
    memcpy(t.node, zt_identity_id(C), sizeof t.node);
    assert_int_equal(verify_h(v, p, bid, &t, "POST", "/v1/jobs/sealed", body, NOW), ZT_ENOTFOUND);
    t = h; /* date */
    snprintf(t.date, sizeof t.date, "%d", NOW + 1);
    assert_int_equal(verify_h(v, p, bid, &t, "POST", "/v1/jobs/sealed", body, NOW), ZT_ECRYPTO);
    t = h; /* nonce */
    t.nonce[0] = t.nonce[0] == '0' ? '1' : '0';
    assert_int_equal(verify_h(v, p, bid, &t, "POST", "/v1/jobs/sealed", body, NOW), ZT_ECRYPTO);
    t = h; /* signature: flip one bit of the decoded bytes */
    struct zt_nodeauth_parsed np;
    assert_int_equal(zt_nodeauth_parse(h.node, h.date, h.nonce, h.sig, &np), 0);
    np.sig[10] ^= 1;
    sodium_bin2base64(t.sig, sizeof t.sig, np.sig, sizeof np.sig, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(verify_h(v, p, bid, &t, "POST", "/v1/jobs/sealed", body, NOW), ZT_ECRYPTO);
    /* every body byte */
    size_t bl = strlen(body);
    for (size_t i = 0; i < bl; i++) {
        memcpy(buf, body, bl + 1);
        buf[i] = (char)(buf[i] ^ 0x20);
        assert_int_equal(verify_h(v, p, bid, &h, "POST", "/v1/jobs/sealed", buf, NOW), ZT_ECRYPTO);
    }
    assert_int_equal(verify_h(v, p, bid, &h, "POST", "/v1/jobs/sealed", "", NOW), ZT_ECRYPTO);
    /* path, query, method, receiver */
    assert_int_equal(verify_h(v, p, bid, &h, "POST", "/v1/jobs/sealeD", body, NOW), ZT_ECRYPTO);
    assert_int_equal(verify_h(v, p, bid, &h, "POST", "/v1/jobs/sealed?a=1", body, NOW), ZT_ECRYPTO);
    assert_int_equal(verify_h(v, p, bid, &h, "PUT", "/v1/jobs/sealed", body, NOW), ZT_ECRYPTO);
    assert_int_equal(verify_h(v, p, zt_identity_id(C), &h, "POST", "/v1/jobs/sealed", body, NOW), ZT_ECRYPTO);
    assert_int_equal(zt_nodeauth_cache_size(v), 0); /* nothing invalid was remembered */

    /* the genuine request, once */
    assert_int_equal(verify_h(v, p, bid, &h, "POST", "/v1/jobs/sealed", body, NOW + 300), 0);
    assert_int_equal(verify_h(v, p, bid, &h, "POST", "/v1/jobs/sealed", body, NOW), ZT_EEXIST);
    assert_int_equal(zt_nodeauth_cache_size(v), 1);
    zt_nodeauth_verifier_free(v);
    zt_peers_free(p);
}

static void test_clock_window(void **state)
{
    (void)state;
    struct zt_peers *p = registry_of(A);
    struct zt_nodeauth_verifier *v;
    assert_int_equal(zt_nodeauth_verifier_new(64, &v), 0);
    const char *bid = zt_identity_id(B);
    struct zt_nodeauth_headers h;
    assert_int_equal(zt_nodeauth_sign(A, bid, "GET", "/v1/node/descriptor", "", 0, NOW, &h), 0);
    assert_int_equal(verify_h(v, p, bid, &h, "GET", "/v1/node/descriptor", "", NOW + 301), ZT_ETIMEDOUT);
    assert_int_equal(verify_h(v, p, bid, &h, "GET", "/v1/node/descriptor", "", NOW - 301), ZT_ETIMEDOUT);
    assert_int_equal(verify_h(v, p, bid, &h, "GET", "/v1/node/descriptor", "", NOW - 300), 0);
    struct zt_nodeauth_headers h2;
    assert_int_equal(zt_nodeauth_sign(A, bid, "GET", "/v1/node/descriptor", "", 0, NOW, &h2), 0);
    assert_string_not_equal(h.nonce, h2.nonce); /* same request twice is not a replay */
    assert_int_equal(verify_h(v, p, bid, &h2, "GET", "/v1/node/descriptor", "", NOW), 0);
    zt_nodeauth_verifier_free(v);
    zt_peers_free(p);
}

static void test_replay_cache_bounds(void **state)
{
    (void)state;
    struct zt_peers *p = registry_of(A);
    struct zt_nodeauth_verifier *v;
    assert_int_equal(zt_nodeauth_verifier_new(3, &v), 0);
    const char *bid = zt_identity_id(B);
    struct zt_nodeauth_headers h[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(zt_nodeauth_sign(A, bid, "POST", "/x", "b", 1, NOW, &h[i]), 0);
    for (int i = 0; i < 3; i++) assert_int_equal(verify_h(v, p, bid, &h[i], "POST", "/x", "b", NOW), 0);
    /* full of live signatures: refuse rather than forget one */
    assert_int_equal(verify_h(v, p, bid, &h[3], "POST", "/x", "b", NOW), ZT_EBUSY);
    assert_int_equal(verify_h(v, p, bid, &h[0], "POST", "/x", "b", NOW), ZT_EEXIST);
    /* 2 x window later the old ones may go (their dates are out of the window anyway) */
    struct zt_nodeauth_headers late;
    assert_int_equal(zt_nodeauth_sign(A, bid, "POST", "/x", "b", 1, NOW + 600, &late), 0);
    assert_int_equal(verify_h(v, p, bid, &late, "POST", "/x", "b", NOW + 600), 0);
    assert_int_equal(zt_nodeauth_cache_size(v), 1);
    assert_int_equal(verify_h(v, p, bid, &h[4], "POST", "/x", "b", NOW + 600), ZT_ETIMEDOUT);
    zt_nodeauth_verifier_free(v);
    struct zt_nodeauth_verifier *v2 = NULL;
    assert_int_equal(zt_nodeauth_verifier_new((size_t)1 << 25, &v2), ZT_EINVAL);
    zt_nodeauth_verifier_free(NULL);
    zt_peers_free(p);
}

static void test_parse_malformed(void **state)
{
    (void)state;
    struct zt_nodeauth_headers h;
    assert_int_equal(zt_nodeauth_sign(A, zt_identity_id(B), "POST", "/x", "", 0, NOW, &h), 0);
    struct zt_nodeauth_parsed np;
    assert_int_equal(zt_nodeauth_parse(h.node, h.date, h.nonce, h.sig, &np), 0);
    assert_int_equal(np.date, NOW);
    assert_int_equal(zt_nodeauth_parse(NULL, h.date, h.nonce, h.sig, &np), ZT_EPARSE);
    assert_int_equal(zt_nodeauth_parse(h.node, NULL, h.nonce, h.sig, &np), ZT_EPARSE);
    assert_int_equal(zt_nodeauth_parse(h.node, h.date, NULL, h.sig, &np), ZT_EPARSE);
    assert_int_equal(zt_nodeauth_parse(h.node, h.date, h.nonce, NULL, &np), ZT_EPARSE);
    const char *dates[] = {"", "01767225600", "-1", "+1", "1e9", "1767225600 ", "1234567890123456789", "12a"};
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++)
        assert_int_equal(zt_nodeauth_parse(h.node, dates[i], h.nonce, h.sig, &np), ZT_EPARSE);
    assert_int_equal(zt_nodeauth_parse(h.node, "0", h.nonce, h.sig, &np), 0);
    char n[40];
    memcpy(n, h.nonce, sizeof h.nonce);
    n[3] = 'A';
    assert_int_equal(zt_nodeauth_parse(h.node, h.date, n, h.sig, &np), ZT_EPARSE);
    assert_int_equal(zt_nodeauth_parse(h.node, h.date, "0011", h.sig, &np), ZT_EPARSE);
    char s[100];
    memcpy(s, h.sig, sizeof h.sig);
    s[87] = '\0'; /* 87 characters */
    assert_int_equal(zt_nodeauth_parse(h.node, h.date, h.nonce, s, &np), ZT_EPARSE);
    memcpy(s, h.sig, sizeof h.sig);
    s[85] = s[85] == 'A' ? 'B' : 'A'; /* the last 4 bits of a 64-byte value must be zero */
    if (s[85] == 'B') assert_int_equal(zt_nodeauth_parse(h.node, h.date, h.nonce, s, &np), ZT_EPARSE);
    memcpy(s, h.sig, sizeof h.sig);
    s[10] = '-'; /* base64url is not base64 */
    assert_int_equal(zt_nodeauth_parse(h.node, h.date, h.nonce, s, &np), ZT_EPARSE);
    assert_int_equal(zt_nodeauth_parse("zt1AIZUB4IBWTCVKIRHEE3ZFSDHN36EKGQC", h.date, h.nonce, h.sig, &np), ZT_EPARSE);
}

static void test_peers_file(void **state)
{
    (void)state;
    char *good = desc(A, "http://10.0.0.1:8080/", NOW + 3600);
    char *expired = desc(B, "http://10.0.0.2:8080", NOW - 1);
    char *bad_ep = desc(C, "ftp://10.0.0.3", NOW + 3600);
    char *dup_old = desc(A, "http://10.0.0.9:1", NOW + 60);
    /* forged: B's descriptor with A's endpoint swapped in (the signature no longer matches) */
    char *forged = desc(B, "http://10.0.0.2:8080", NOW + 3600);
    char forged_text[4096];
    assert_true(strlen(forged) < sizeof forged_text);
    memcpy(forged_text, forged, strlen(forged) + 1);
    char *at = strstr(forged_text, "10.0.0.2");
    assert_non_null(at);
    at[7] = '7';
    char text[16384];
    snprintf(text, sizeof text, "[%s,%s,%s,%s,%s,{\"v\":1},\"x\"]", good, expired, bad_ep, dup_old, forged_text);
    struct zt_peers *p;
    assert_int_equal(zt_peers_new(&p), 0);
    size_t kept = 9, dropped = 9;
    assert_int_equal(zt_peers_load_text(p, text, strlen(text), NOW, &kept, &dropped, NULL), 0);
    assert_int_equal(kept, 1);
    assert_int_equal(dropped, 6);
    struct zt_peer peer;
    assert_int_equal(zt_peers_lookup(p, zt_identity_id(A), NOW, &peer), 0);
    assert_string_equal(peer.endpoint, "http://10.0.0.1:8080"); /* later expiry kept, '/' dropped */
    assert_memory_equal(peer.ed25519_pk, zt_identity_sign_pk(A), 32);
    assert_memory_equal(peer.kem_pk, zt_identity_kem_pk(A), 32);
    assert_int_equal(zt_peers_lookup(p, zt_identity_id(A), NOW + 3600, &peer), ZT_ETIMEDOUT);
    assert_int_equal(zt_peers_lookup(p, zt_identity_id(B), NOW, &peer), ZT_ENOTFOUND);
    assert_int_equal(zt_peers_lookup(p, "not an id", NOW, &peer), ZT_ENOTFOUND);
    /* a bad file leaves the registry as it was */
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    assert_int_equal(zt_peers_load_text(p, "{\"a\":1}", 7, NOW, NULL, NULL, &err), ZT_EPARSE);
    assert_true(err.len > 0);
    zt_buf_reset(&err);
    assert_int_equal(zt_peers_load_text(p, "[1,", 3, NOW, NULL, NULL, &err), ZT_EPARSE);
    assert_non_null(strstr(zt_buf_str(&err), "line 1"));
    assert_int_equal(zt_peers_count(p), 1);
    /* files */
    char path[] = "/tmp/zt-peers-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    snprintf(text, sizeof text, "[%s]", good);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(zt_peers_load_file(p, path, NOW, &kept, &dropped, &err), 0);
    assert_int_equal(kept, 1);
    unlink(path);
    assert_int_equal(zt_peers_load_file(p, path, NOW, &kept, &dropped, &err), ZT_ENOTFOUND);
    assert_int_equal(zt_peers_count(p), 0);
    zt_buf_reset(&err);
    assert_int_equal(zt_peers_load_file(p, "/", NOW, NULL, NULL, &err), ZT_EIO);
    assert_true(err.len > 0);
    zt_buf_deinit(&err);
    zt_peers_free(p);
    zt_peers_free(NULL);
    zt_free(good);
    zt_free(expired);
    zt_free(bad_ep);
    zt_free(dup_old);
    zt_free(forged);
}

struct unknown_calls {
    unsigned nodes, models;
    char last[128];
};

static void on_unknown(void *ud, const char *node_id, const char *model)
{
    struct unknown_calls *c = ud;
    if (node_id) c->nodes++;
    if (model) c->models++;
    snprintf(c->last, sizeof c->last, "%s", node_id ? node_id : model);
}

/* Workers found in the discovery DHT (zt_peers_set_discovered): picked after
 * the static peers, their signatures verify, a file reload keeps them. */
static void test_peers_discovered(void **state)
{
    (void)state;
    struct zt_peers *p = registry_of(A); /* static: A, a worker listing no model */
    const char *roles[] = {"worker"}, *models[] = {"m"};
    char *bd = NULL, *cd = NULL;
    assert_int_equal(zt_identity_descriptor(B, roles, 1, models, 1, "http://10.0.0.2:8080/", NOW + 60, &bd), 0);
    assert_int_equal(zt_identity_descriptor(C, roles, 1, models, 1, "http://10.0.0.3:8080/path", NOW + 60, &cd), 0);
    struct zt_node_descriptor d[4];
    memset(d, 0, sizeof d);
    assert_int_equal(zt_identity_descriptor_verify(bd, strlen(bd), NOW, &d[0]), 0);
    assert_int_equal(zt_identity_descriptor_verify(bd, strlen(bd), NOW, &d[1]), 0); /* twice */
    assert_int_equal(zt_identity_descriptor_verify(cd, strlen(cd), NOW, &d[2]), 0); /* a path: dropped */
    char *ad = desc(A, "http://10.0.0.9:1", NOW + 60);
    assert_int_equal(zt_identity_descriptor_verify(ad, strlen(ad), NOW, &d[3]), 0); /* static already */
    size_t kept = 9;
    assert_int_equal(zt_peers_set_discovered(p, d, 4, NOW, &kept), 0);
    assert_int_equal(kept, 1);
    assert_int_equal(zt_peers_count(p), 2);
    struct zt_peer peer, listed[4];
    assert_int_equal(zt_peers_pick(p, "m", NULL, NOW, &peer), 0);
    assert_string_equal(peer.node_id, zt_identity_id(B));
    assert_string_equal(peer.endpoint, "http://10.0.0.2:8080");
    assert_int_equal(zt_peers_pick(p, "m", NULL, NOW + 60, &peer), ZT_ENOTFOUND); /* expired */
    assert_int_equal(zt_peers_lookup(p, zt_identity_id(B), NOW, &peer), 0);
    assert_int_equal(zt_peers_lookup(p, zt_identity_id(A), NOW, &peer), 0);
    assert_string_equal(peer.endpoint, "http://10.0.0.1:8080"); /* the static one */
    assert_int_equal(zt_peers_list(p, listed, 4), 2); /* the static peer, then the discovered one */
    assert_string_equal(listed[0].node_id, zt_identity_id(A));
    assert_string_equal(listed[1].node_id, zt_identity_id(B));
    assert_int_equal(zt_peers_list(p, listed, 1), 1);
    assert_int_equal(zt_peers_load_file(p, "/nonexistent/peers.json", NOW, NULL, NULL, NULL), ZT_ENOTFOUND);
    assert_int_equal(zt_peers_pick(p, "m", NULL, NOW, &peer), 0);
    assert_int_equal(zt_peers_set_discovered(p, NULL, 0, NOW, &kept), 0);
    assert_int_equal(kept, 0);
    assert_int_equal(zt_peers_pick(p, "m", NULL, NOW, &peer), ZT_ENOTFOUND);
    assert_int_equal(zt_peers_set_discovered(p, NULL, 1, NOW, NULL), ZT_EINVAL);
    /* the hook hears of what the registry does not hold, and only that */
    struct unknown_calls calls;
    memset(&calls, 0, sizeof calls);
    zt_peers_set_unknown_hook(p, on_unknown, &calls);
    assert_int_equal(zt_peers_lookup(p, zt_identity_id(C), NOW, &peer), ZT_ENOTFOUND);
    assert_int_equal(calls.nodes, 1);
    assert_string_equal(calls.last, zt_identity_id(C));
    assert_int_equal(zt_peers_pick(p, "wanted-model", NULL, NOW, &peer), ZT_ENOTFOUND);
    assert_int_equal(calls.models, 1);
    assert_int_equal(zt_peers_pick(p, "m", zt_identity_id(C), NOW, &peer), ZT_ENOTFOUND); /* pinned: not a model miss */
    assert_int_equal(calls.models, 1);
    assert_string_equal(calls.last, "wanted-model");
    assert_int_equal(zt_peers_set_discovered(p, d, 1, NOW, NULL), 0);
    assert_int_equal(zt_peers_lookup(p, zt_identity_id(B), NOW, &peer), 0);
    assert_int_equal(zt_peers_pick(p, "m", NULL, NOW, &peer), 0);
    assert_int_equal(calls.nodes + calls.models, 2); /* hits call nothing */
    zt_peers_set_unknown_hook(p, NULL, NULL);
    assert_int_equal(zt_peers_lookup(p, zt_identity_id(C), NOW, &peer), ZT_ENOTFOUND);
    assert_int_equal(calls.nodes, 1);
    for (size_t i = 0; i < 4; i++) zt_node_descriptor_deinit(&d[i]);
    zt_free(ad);
    zt_free(bd);
    zt_free(cd);
    zt_peers_free(p);
}

/* Every allocation of the verifier failing in turn: ZT_ENOMEM, nothing
 * handed out, nothing leaked (test_no_leaks), then it is built. */
static void test_verifier_alloc_failures(void **state)
{
    (void)state;
    int failed = 0;
    for (int64_t n = 1; n < 16; n++) {
        struct zt_nodeauth_verifier *v = NULL;
        zt_alloc_fail_after(n);
        int rc = zt_nodeauth_verifier_new(8, &v);
        zt_alloc_fail_after(0);
        if (rc == 0) {
            assert_non_null(v);
            zt_nodeauth_verifier_free(v);
            break;
        }
        assert_int_equal(rc, ZT_ENOMEM);
        assert_null(v);
        failed++;
    }
    assert_true(failed >= 2); /* the object, its entries (and the index) */
}

static void test_no_leaks(void **state)
{
    (void)state;
    assert_int_equal(zt_alloc_live(), 0);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_known_answer),
        cmocka_unit_test(test_sign_verify_and_tamper),
        cmocka_unit_test(test_clock_window),
        cmocka_unit_test(test_replay_cache_bounds),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_peers_file),
        cmocka_unit_test(test_peers_discovered),
        cmocka_unit_test(test_verifier_alloc_failures),
        cmocka_unit_test(test_no_leaks),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
