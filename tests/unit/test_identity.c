/* test_identity.c: node identity: known answers for the id derivation and
 * the keys, key files (round trips, passphrase, tampering, permissions,
 * malformed files), signed node descriptors, the KEM key with HPKE, and
 * allocation failures. Argon2id runs with its minimum cost here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_hpke.h"
#include "zentalk/zt_identity.h"
#include "../../src/crypto/identity_int.h"
#include "zentalk/zt_str.h"
#include "zt_test.h"

static char tmpdir[256];
static const struct zt_identity_kdf fast_kdf = {1, 8192};
static const char pass[] = "correct horse battery staple";

static int setup(void **state)
{
    (void)state;
    assert_int_equal(zt_crypto_init(), 0);
    zt__identity_test_set_kdf_max(0, 0);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/zt-identity-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    zt_test_leak_mark();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zt_alloc_fail_after(0);
    zt__identity_test_set_kdf_max(0, 0);
    zt_test_leak_check();
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        char p[600];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
                continue;
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
    return 0;
}

static void unhex(const char *hex, uint8_t *out, size_t n)
{
    size_t got = 0;
    assert_int_equal(strlen(hex), 2 * n);
    assert_int_equal(sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, NULL), 0);
    assert_int_equal(got, n);
}

static void path_in_tmp(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* Read a whole (small) file into a zt_malloc'd string. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = zt_malloc(8192);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 8191, f);
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static int count_files(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* RFC 8032 7.1 TEST 1 and RFC 7748 6.1 (Alice). */
static const char rfc8032_seed[] = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char rfc8032_pk[] = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char rfc8032_sig[] = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                                  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
static const char rfc7748_sk[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char rfc7748_pk[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
/* zt1 + base32(BLAKE2b-256("zentalk-node-id-v1" || pk)[0..20]), computed
 * independently with Python's hashlib.blake2b and base64.b32encode. */
static const char rfc8032_id[] = "zt1aizub4ibwtcvkirhee3zfsdhn36ekgqc";
static const char zero_pk_id[] = "zt1azh33ohq33pzqj4kfrmit2bsfe27kkaw";

static struct zt_identity *kat_identity(void)
{
    uint8_t *sec = sodium_malloc(64);
    assert_non_null(sec);
    unhex(rfc8032_seed, sec, 32);
    unhex(rfc7748_sk, sec + 32, 32);
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_from_secret(sec, sec + 32, &id), 0);
    sodium_free(sec);
    return id;
}

/* ---- keys ------------------------------------------------------------------ */

static void test_node_id_known_answer(void **state)
{
    (void)state;
    uint8_t pk[32] = {0};
    char id[ZT_IDENTITY_ID_SIZE];
    zt_identity_node_id(pk, id);
    assert_string_equal(id, zero_pk_id);
    unhex(rfc8032_pk, pk, 32);
    zt_identity_node_id(pk, id);
    assert_string_equal(id, rfc8032_id);
    assert_int_equal(strlen(id), ZT_IDENTITY_ID_LEN);
    assert_true(zt_identity_id_valid(id));
    assert_false(zt_identity_id_valid(NULL));
    assert_false(zt_identity_id_valid(""));
    assert_false(zt_identity_id_valid("zt1aizub4ibwtcvkirhee3zfsdhn36ekgq"));   /* short */
    assert_false(zt_identity_id_valid("zt1aizub4ibwtcvkirhee3zfsdhn36ekgqcc")); /* long */
    assert_false(zt_identity_id_valid("zt1Aizub4ibwtcvkirhee3zfsdhn36ekgqc"));  /* upper */
    assert_false(zt_identity_id_valid("zt1aizub4ibwtcvkirhee3zfsdhn36ekgq1"));  /* not base32 */
    assert_false(zt_identity_id_valid("zt2aizub4ibwtcvkirhee3zfsdhn36ekgqc"));
}

static void test_keys_known_answer(void **state)
{
    (void)state;
    struct zt_identity *id = kat_identity();
    uint8_t want[64];
    unhex(rfc8032_pk, want, 32);
    assert_memory_equal(zt_identity_sign_pk(id), want, 32);
    unhex(rfc7748_pk, want, 32);
    assert_memory_equal(zt_identity_kem_pk(id), want, 32);
    unhex(rfc7748_sk, want, 32);
    assert_memory_equal(zt_identity_kem_sk(id), want, 32);
    assert_string_equal(zt_identity_id(id), rfc8032_id);

    uint8_t sig[64];
    assert_int_equal(zt_identity_sign(id, NULL, 0, sig), 0); /* RFC 8032 TEST 1: empty message */
    unhex(rfc8032_sig, want, 64);
    assert_memory_equal(sig, want, 64);
    assert_int_equal(zt_identity_verify(zt_identity_sign_pk(id), NULL, 0, sig), 0);

    const uint8_t msg[] = "job receipt";
    assert_int_equal(zt_identity_sign(id, msg, sizeof msg, sig), 0);
    assert_int_equal(zt_identity_verify(zt_identity_sign_pk(id), msg, sizeof msg, sig), 0);
    for (size_t i = 0; i < sizeof sig; i++) {
        sig[i] ^= 0x01;
        assert_int_equal(zt_identity_verify(zt_identity_sign_pk(id), msg, sizeof msg, sig), ZT_ECRYPTO);
        sig[i] ^= 0x01;
    }
    assert_int_equal(zt_identity_verify(zt_identity_sign_pk(id), msg, sizeof msg - 1, sig), ZT_ECRYPTO);
    struct zt_identity *other = NULL;
    assert_int_equal(zt_identity_generate(&other), 0);
    assert_int_equal(zt_identity_verify(zt_identity_sign_pk(other), msg, sizeof msg, sig), ZT_ECRYPTO);
    assert_string_not_equal(zt_identity_id(other), zt_identity_id(id));
    assert_true(zt_identity_id_valid(zt_identity_id(other)));
    zt_identity_free(other);
    zt_identity_free(id);
    zt_identity_free(NULL);
}

static void test_kem_key_works_with_hpke(void **state)
{
    (void)state;
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    const uint8_t aad[] = "job header", pt[] = "hello worker";
    uint8_t enc[ZT_HPKE_ENC_LEN], ct[sizeof pt + ZT_HPKE_TAG_LEN], out[sizeof pt];
    assert_int_equal(zt_hpke_seal(ZT_HPKE_SUITE_CHACHA, NULL, zt_identity_kem_pk(id), aad, sizeof aad, pt,
                                  sizeof pt, enc, ct, sizeof ct),
                     0);
    assert_int_equal(zt_hpke_open(ZT_HPKE_SUITE_CHACHA, NULL, enc, zt_identity_kem_sk(id), aad, sizeof aad,
                                  ct, sizeof ct, out, sizeof out),
                     0);
    assert_memory_equal(out, pt, sizeof pt);
    /* and not with someone else's key */
    struct zt_identity *other = NULL;
    assert_int_equal(zt_identity_generate(&other), 0);
    assert_int_equal(zt_hpke_open(ZT_HPKE_SUITE_CHACHA, NULL, enc, zt_identity_kem_sk(other), aad,
                                  sizeof aad, ct, sizeof ct, out, sizeof out),
                     ZT_ECRYPTO);
    zt_identity_free(other);
    zt_identity_free(id);
}

/* ---- key files --------------------------------------------------------------- */

static void assert_same_identity(const struct zt_identity *a, const struct zt_identity *b)
{
    assert_string_equal(zt_identity_id(a), zt_identity_id(b));
    assert_memory_equal(zt_identity_sign_pk(a), zt_identity_sign_pk(b), 32);
    assert_memory_equal(zt_identity_kem_pk(a), zt_identity_kem_pk(b), 32);
    assert_memory_equal(zt_identity_kem_sk(a), zt_identity_kem_sk(b), 32);
    uint8_t s1[64], s2[64];
    assert_int_equal(zt_identity_sign(a, (const uint8_t *)"x", 1, s1), 0);
    assert_int_equal(zt_identity_sign(b, (const uint8_t *)"x", 1, s2), 0);
    assert_memory_equal(s1, s2, 64);
}

static void test_keyfile_plain_roundtrip(void **state)
{
    (void)state;
    char path[512];
    path_in_tmp(path, sizeof path, "node.key");
    struct zt_identity *id = kat_identity(), *back = NULL;
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    assert_int_equal(zt_identity_load(path, NULL, 0, &back, &err), ZT_ENOTFOUND);
    assert_null(back);
    assert_int_equal(zt_identity_save(id, path, NULL, 0, NULL, 0, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(count_files(), 1); /* no temporary file left behind */

    zt_buf_reset(&err);
    assert_int_equal(zt_identity_load(path, NULL, 0, &back, &err), 0);
    assert_same_identity(id, back);
    zt_identity_free(back);
    back = NULL;
    /* a passphrase for a plain file is ignored */
    assert_int_equal(zt_identity_load(path, pass, strlen(pass), &back, NULL), 0);
    zt_identity_free(back);
    back = NULL;

    /* the text says what it is */
    char *text = slurp(path, NULL);
    assert_non_null(strstr(text, "\"kind\": \"zentalk-node-key\""));
    assert_non_null(strstr(text, "\"encryption\": \"none\""));
    assert_non_null(strstr(text, rfc8032_id));
    assert_non_null(strstr(text, rfc8032_pk));
    zt_free(text);

    /* never overwritten unless asked */
    struct zt_identity *other = NULL;
    assert_int_equal(zt_identity_generate(&other), 0);
    zt_buf_reset(&err);
    assert_int_equal(zt_identity_save(other, path, NULL, 0, NULL, 0, &err), ZT_EEXIST);
    assert_non_null(strstr(zt_buf_str(&err), "already exists"));
    assert_int_equal(zt_identity_load(path, NULL, 0, &back, NULL), 0);
    assert_same_identity(id, back);
    zt_identity_free(back);
    back = NULL;
    assert_int_equal(zt_identity_save(other, path, NULL, 0, NULL, ZT_IDENTITY_OVERWRITE, &err), 0);
    assert_int_equal(zt_identity_load(path, NULL, 0, &back, NULL), 0);
    assert_same_identity(other, back);
    assert_int_equal(count_files(), 1);

    /* bad arguments */
    assert_int_equal(zt_identity_save(NULL, path, NULL, 0, NULL, 0, NULL), ZT_EINVAL);
    assert_int_equal(zt_identity_save(id, "", NULL, 0, NULL, 0, NULL), ZT_EINVAL);
    assert_int_equal(zt_identity_load(NULL, NULL, 0, &back, NULL), ZT_EINVAL);
    struct zt_identity_kdf huge = {100, 8192};
    char p2[512];
    path_in_tmp(p2, sizeof p2, "other.key");
    assert_int_equal(zt_identity_save(id, p2, pass, strlen(pass), &huge, 0, NULL), ZT_ERANGE);
    assert_int_equal(count_files(), 1);

    zt_identity_free(back);
    zt_identity_free(other);
    zt_identity_free(id);
    zt_buf_deinit(&err);
}

static void test_keyfile_passphrase_roundtrip(void **state)
{
    (void)state;
    char path[512];
    path_in_tmp(path, sizeof path, "node.key");
    struct zt_identity *id = NULL, *back = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    assert_int_equal(zt_identity_save(id, path, pass, strlen(pass), &fast_kdf, 0, NULL), 0);
    char *text = slurp(path, NULL);
    assert_non_null(strstr(text, "\"encryption\": \"argon2id-xchacha20poly1305\""));
    assert_non_null(strstr(text, "\"opslimit\": 1,"));
    assert_non_null(strstr(text, "\"memlimit\": 8192,"));
    zt_free(text);

    assert_int_equal(zt_identity_load(path, pass, strlen(pass), &back, NULL), 0);
    assert_same_identity(id, back);
    zt_identity_free(back);
    back = NULL;

    struct zt_buf err;
    zt_buf_init(&err, 4096);
    assert_int_equal(zt_identity_load(path, "wrong", 5, &back, &err), ZT_ECRYPTO);
    assert_non_null(strstr(zt_buf_str(&err), "wrong passphrase or corrupted key file"));
    assert_null(back);
    assert_int_equal(zt_identity_load(path, pass, strlen(pass) - 1, &back, NULL), ZT_ECRYPTO);
    zt_buf_reset(&err);
    assert_int_equal(zt_identity_load(path, NULL, 0, &back, &err), ZT_EINVAL);
    assert_non_null(strstr(zt_buf_str(&err), "passphrase"));
    assert_int_equal(zt_identity_load(path, "", 0, &back, NULL), ZT_EINVAL);
    assert_null(back);
    zt_buf_deinit(&err);
    zt_identity_free(id);
}

/* Flip bit `bit` (0..3) of the i-th hex digit of the value of key in text. */
static void flip_digit(char *text, const char *key, size_t i, int bit)
{
    static const char digits[] = "0123456789abcdef";
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    char *p = strstr(text, pat);
    assert_non_null(p);
    p += strlen(pat) + i;
    const char *d = strchr(digits, *p);
    assert_true(d != NULL && *p != '\0');
    *p = digits[(d - digits) ^ (1 << bit)];
}

static void test_keyfile_tamper(void **state)
{
    (void)state;
    char path[512];
    path_in_tmp(path, sizeof path, "node.key");
    struct zt_identity *id = NULL, *back = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    assert_int_equal(zt_identity_save(id, path, pass, strlen(pass), &fast_kdf, 0, NULL), 0);
    size_t len;
    char *orig = slurp(path, &len);
    char *text = zt_malloc(len + 1);
    assert_non_null(text);
    static const struct {
        const char *key;
        size_t hexlen;
    } fields[] = {{"secret", 160}, {"nonce", 48}, {"salt", 32}, {"ed25519_pk", 64}, {"x25519_pk", 64}};
    size_t tried = 0;
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        for (size_t i = 0; i < fields[f].hexlen; i++) {
            memcpy(text, orig, len + 1);
            flip_digit(text, fields[f].key, i, (int)(i % 4));
            assert_int_equal(zt_identity_parse(text, len, pass, strlen(pass), &back, NULL), ZT_ECRYPTO);
            assert_null(back);
            tried++;
        }
    }
    assert_int_equal(tried, 368);
    /* Argon2 cost changed: a different key */
    memcpy(text, orig, len + 1);
    char *m = strstr(text, "\"opslimit\": 1,");
    assert_non_null(m);
    m[12] = '2';
    assert_int_equal(zt_identity_parse(text, len, pass, strlen(pass), &back, NULL), ZT_ECRYPTO);
    /* untouched parses */
    assert_int_equal(zt_identity_parse(orig, len, pass, strlen(pass), &back, NULL), 0);
    zt_identity_free(back);
    back = NULL;

    /* plain file: any changed secret digit no longer matches the public keys */
    assert_int_equal(zt_identity_save(id, path, NULL, 0, NULL, ZT_IDENTITY_OVERWRITE, NULL), 0);
    zt_free(orig);
    orig = slurp(path, &len);
    zt_free(text);
    text = zt_malloc(len + 1);
    assert_non_null(text);
    for (size_t i = 0; i < 128; i++) {
        memcpy(text, orig, len + 1);
        /* X25519 clamps bits 0-2 of the scalar's first byte and bits 6-7 of
         * its last (hex digits 65 and 126 here): flipping those gives the
         * same key, so flip a bit that counts */
        flip_digit(text, "secret", i, i == 126 ? 0 : 3);
        assert_int_equal(zt_identity_parse(text, len, NULL, 0, &back, NULL), ZT_ECRYPTO);
    }
    /* and the clamped bits really are harmless */
    static const struct {
        size_t digit;
        int bit;
    } clamped[] = {{65, 0}, {65, 1}, {65, 2}, {126, 2}, {126, 3}};
    for (size_t i = 0; i < sizeof clamped / sizeof clamped[0]; i++) {
        memcpy(text, orig, len + 1);
        flip_digit(text, "secret", clamped[i].digit, clamped[i].bit);
        assert_int_equal(zt_identity_parse(text, len, NULL, 0, &back, NULL), 0);
        zt_identity_free(back);
        back = NULL;
    }
    zt_free(text);
    zt_free(orig);
    zt_identity_free(id);
}

static void test_keyfile_permissions(void **state)
{
    (void)state;
    char path[512];
    path_in_tmp(path, sizeof path, "node.key");
    struct zt_identity *id = NULL, *back = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    assert_int_equal(zt_identity_save(id, path, NULL, 0, NULL, 0, NULL), 0);
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    static const mode_t bad[] = {0640, 0604, 0644, 0660, 0700, 0610};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(chmod(path, bad[i]), 0);
        zt_buf_reset(&err);
        int rc = zt_identity_load(path, NULL, 0, &back, &err);
        if ((bad[i] & 077) != 0) {
            assert_int_equal(rc, ZT_EPERM);
            assert_non_null(strstr(zt_buf_str(&err), "chmod 600"));
            assert_null(back);
        } else {
            assert_int_equal(rc, 0); /* 0700: owner only, fine */
            zt_identity_free(back);
            back = NULL;
        }
    }
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(zt_identity_load(path, NULL, 0, &back, NULL), 0);
    zt_identity_free(back);
    back = NULL;
    /* not a regular file */
    assert_int_equal(zt_identity_load(tmpdir, NULL, 0, &back, NULL), ZT_EPERM);
    /* too large */
    char big[512];
    path_in_tmp(big, sizeof big, "big.key");
    FILE *f = fopen(big, "w");
    assert_non_null(f);
    for (int i = 0; i < 5000; i++) fputc(' ', f);
    fclose(f);
    assert_int_equal(chmod(big, 0600), 0);
    assert_int_equal(zt_identity_load(big, NULL, 0, &back, NULL), ZT_ETOOBIG);
    zt_buf_deinit(&err);
    zt_identity_free(id);
}

/* Parse text after changing key to value (a JSON literal; NULL deletes). */
static int parse_modified(const char *orig, const char *key, const char *value, const char *pw)
{
    json_t *j = json_loads(orig, 0, NULL);
    assert_non_null(j);
    if (value) {
        json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        assert_int_equal(json_object_set_new(j, key, v), 0);
    } else {
        assert_int_equal(json_object_del(j, key), 0);
    }
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    assert_non_null(s);
    json_decref(j);
    struct zt_identity *back = NULL;
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    int rc = zt_identity_parse(s, strlen(s), pw, pw ? strlen(pw) : 0, &back, &err);
    if (rc == 0) zt_identity_free(back);
    else assert_true(err.len > 0); /* every failure says why */
    zt_buf_deinit(&err);
    zt_free(s);
    return rc;
}

static int parse_text(const char *s)
{
    struct zt_identity *back = NULL;
    int rc = zt_identity_parse(s, strlen(s), NULL, 0, &back, NULL);
    if (rc == 0) zt_identity_free(back);
    return rc;
}

static void test_keyfile_malformed(void **state)
{
    (void)state;
    char path[512];
    path_in_tmp(path, sizeof path, "plain.key");
    struct zt_identity *id = kat_identity(), *other = NULL;
    assert_int_equal(zt_identity_generate(&other), 0);
    assert_int_equal(zt_identity_save(id, path, NULL, 0, NULL, 0, NULL), 0);
    char *plain = slurp(path, NULL);
    path_in_tmp(path, sizeof path, "enc.key");
    assert_int_equal(zt_identity_save(id, path, pass, strlen(pass), &fast_kdf, 0, NULL), 0);
    char *enc = slurp(path, NULL);
    char other_x[80], other_ed[80];
    snprintf(other_x, sizeof other_x, "\"%s\"", "");
    sodium_bin2hex(other_x + 1, 65, zt_identity_kem_pk(other), 32);
    sodium_bin2hex(other_ed + 1, 65, zt_identity_sign_pk(other), 32);
    other_x[0] = other_ed[0] = '"';
    other_x[65] = other_ed[65] = '"';
    other_x[66] = other_ed[66] = '\0';

    assert_int_equal(parse_modified(plain, "kind", "\"zentalk-node-key\"", NULL), 0); /* control */
    assert_int_equal(parse_text(""), ZT_EPARSE);
    assert_int_equal(parse_text("not json"), ZT_EPARSE);
    assert_int_equal(parse_text("[]"), ZT_EPARSE);
    assert_int_equal(parse_text("{\"version\":1,\"version\":1}"), ZT_EPARSE); /* duplicate */
    assert_int_equal(parse_text("{}"), ZT_EPARSE);
    /* a duplicate key in an otherwise valid file */
    {
        size_t n = strlen(plain);
        char *dup = zt_malloc(n + 64);
        assert_non_null(dup);
        snprintf(dup, n + 64, "{\"kind\": \"zentalk-node-key\",%s", plain + 1);
        assert_int_equal(parse_text(dup), ZT_EPARSE);
        zt_free(dup);
    }
    /* missing and extra keys */
    static const char *const plain_keys[] = {"kind", "node_id", "ed25519_pk", "x25519_pk", "encryption",
                                             "secret"};
    for (size_t i = 0; i < sizeof plain_keys / sizeof plain_keys[0]; i++)
        assert_int_equal(parse_modified(plain, plain_keys[i], NULL, NULL), ZT_EPARSE);
    assert_int_equal(parse_modified(plain, "version", NULL, NULL), ZT_EPARSE);
    assert_int_equal(parse_modified(plain, "comment", "\"hi\"", NULL), ZT_EPARSE);
    assert_int_equal(parse_modified(plain, "salt", "\"00\"", NULL), ZT_EPARSE); /* encrypted-only key */
    static const char *const enc_keys[] = {"salt", "nonce", "opslimit", "memlimit"};
    for (size_t i = 0; i < sizeof enc_keys / sizeof enc_keys[0]; i++)
        assert_int_equal(parse_modified(enc, enc_keys[i], NULL, pass), ZT_EPARSE);
    /* types, kind, version, encryption */
    assert_int_equal(parse_modified(plain, "version", "\"1\"", NULL), ZT_EPARSE);
    assert_int_equal(parse_modified(plain, "version", "2", NULL), ZT_EUNSUPPORTED);
    assert_int_equal(parse_modified(plain, "version", "0", NULL), ZT_EUNSUPPORTED);
    assert_int_equal(parse_modified(plain, "kind", "\"ssh-key\"", NULL), ZT_EPARSE);
    assert_int_equal(parse_modified(plain, "kind", "7", NULL), ZT_EPARSE);
    assert_int_equal(parse_modified(plain, "encryption", "\"rot13\"", NULL), ZT_EUNSUPPORTED);
    assert_int_equal(parse_modified(plain, "encryption", "null", NULL), ZT_EPARSE);
    assert_int_equal(parse_modified(plain, "secret", "1", NULL), ZT_EPARSE);
    /* hex and lengths */
    char upper[80];
    snprintf(upper, sizeof upper, "\"%s\"", rfc8032_pk);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
    assert_int_equal(parse_modified(plain, "ed25519_pk", upper, NULL), ZT_EPARSE);
    assert_int_equal(parse_modified(plain, "ed25519_pk", "\"d75a98\"", NULL), ZT_EPARSE);
    assert_int_equal(parse_modified(plain, "x25519_pk", "\"zz20f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\"",
                                    NULL),
                     ZT_EPARSE);
    assert_int_equal(parse_modified(plain, "secret", "\"00\"", NULL), ZT_EPARSE);
    assert_int_equal(parse_modified(enc, "nonce", "\"0011\"", pass), ZT_EPARSE);
    assert_int_equal(parse_modified(enc, "salt", "\"0011\"", pass), ZT_EPARSE);
    assert_int_equal(parse_modified(enc, "secret", "\"0011\"", pass), ZT_EPARSE);
    assert_int_equal(parse_modified(plain, "node_id", "\"node-1\"", NULL), ZT_EPARSE);
    /* public keys or id that do not match the secret keys */
    assert_int_equal(parse_modified(plain, "x25519_pk", other_x, NULL), ZT_ECRYPTO);
    assert_int_equal(parse_modified(plain, "ed25519_pk", other_ed, NULL), ZT_ECRYPTO);
    char other_id[64];
    snprintf(other_id, sizeof other_id, "\"%s\"", zt_identity_id(other));
    assert_int_equal(parse_modified(plain, "node_id", other_id, NULL), ZT_ECRYPTO);
    /* hostile Argon2 cost: refused before any work */
    assert_int_equal(parse_modified(enc, "opslimit", "1000000", pass), ZT_ERANGE);
    assert_int_equal(parse_modified(enc, "opslimit", "0", pass), ZT_ERANGE);
    assert_int_equal(parse_modified(enc, "opslimit", "-1", pass), ZT_ERANGE);
    assert_int_equal(parse_modified(enc, "memlimit", "1099511627776", pass), ZT_ERANGE);
    assert_int_equal(parse_modified(enc, "memlimit", "1024", pass), ZT_ERANGE);
    assert_int_equal(parse_modified(enc, "opslimit", "\"1\"", pass), ZT_EPARSE);
    assert_int_equal(parse_modified(enc, "memlimit", "8192.0", pass), ZT_EPARSE);
    zt__identity_test_set_kdf_max(1, 8192);
    assert_int_equal(parse_modified(enc, "opslimit", "2", pass), ZT_ERANGE);
    zt__identity_test_set_kdf_max(0, 0);
    assert_int_equal(parse_modified(enc, "kind", "\"zentalk-node-key\"", pass), 0); /* control */
    /* too large, embedded NUL */
    char *big = zt_malloc(ZT_IDENTITY_KEYFILE_MAX + 2);
    assert_non_null(big);
    memset(big, ' ', ZT_IDENTITY_KEYFILE_MAX + 1);
    struct zt_identity *back = NULL;
    assert_int_equal(zt_identity_parse(big, ZT_IDENTITY_KEYFILE_MAX + 1, NULL, 0, &back, NULL), ZT_ETOOBIG);
    zt_free(big);
    assert_int_equal(zt_identity_parse(plain, strlen(plain) + 1, NULL, 0, &back, NULL), ZT_EPARSE);
    assert_int_equal(zt_identity_parse(NULL, 0, NULL, 0, &back, NULL), ZT_EINVAL);
    assert_null(back);

    zt_free(plain);
    zt_free(enc);
    zt_identity_free(other);
    zt_identity_free(id);
}

/* ---- descriptors ---------------------------------------------------------------- */

static size_t offset_of(const char *s, const char *pat)
{
    uintptr_t p = (uintptr_t)strstr(s, pat);
    assert_true(p != 0);
    return (size_t)(p - (uintptr_t)s);
}

static const char *const roles[] = {"worker", "gateway"};
static const char *const models[] = {"tinyllama-1.1b-q4_0", "stories260K"};
#define NOW 1700000000

static char *make_descriptor(const struct zt_identity *id, int64_t expires)
{
    static char *d; /* static: gcc's -Wdangling-pointer cannot see through &d */
    d = NULL;
    assert_int_equal(zt_identity_descriptor(id, roles, 2, models, 2, "https://node.example:8443", expires, &d), 0);
    return d;
}

/* Verify text after setting key to value (JSON literal, NULL deletes). */
static int verify_modified(const char *orig, const char *key, const char *value)
{
    json_t *j = json_loads(orig, 0, NULL);
    assert_non_null(j);
    if (value) {
        json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        assert_int_equal(json_object_set_new(j, key, v), 0);
    } else {
        assert_int_equal(json_object_del(j, key), 0);
    }
    char *s = json_dumps(j, JSON_INDENT(1)); /* any formatting, any key order */
    assert_non_null(s);
    json_decref(j);
    int rc = zt_identity_descriptor_verify(s, strlen(s), NOW, NULL);
    zt_free(s);
    return rc;
}

static void test_descriptor(void **state)
{
    (void)state;
    struct zt_identity *id = kat_identity(), *other = NULL;
    assert_int_equal(zt_identity_generate(&other), 0);
    char *d = make_descriptor(id, NOW + 3600);
    /* canonical: compact, sorted keys; Ed25519 is deterministic, so is the text */
    assert_true(strncmp(d, "{\"ed25519_pk\":\"d75a98", 21) == 0);
    assert_null(strchr(d, ' '));
    assert_non_null(strstr(d, "\"endpoint\":\"https://node.example:8443\",\"expires\":1700003600,\"kem_pk\":\"8520f0"));
    assert_non_null(strstr(d, "\"models\":[\"tinyllama-1.1b-q4_0\",\"stories260K\"],\"node_id\":\"zt1aizub4ibwtcvkirhee3zfsdhn36ekgqc\",\"roles\":[\"worker\",\"gateway\"],\"sig\":\""));
    assert_true(zt_str_ends_with(d, "\",\"v\":1}"));
    char *d2 = make_descriptor(id, NOW + 3600);
    assert_string_equal(d, d2);
    zt_free(d2);

    struct zt_node_descriptor nd;
    memset(&nd, 0, sizeof nd);
    assert_int_equal(zt_identity_descriptor_verify(d, strlen(d), NOW, &nd), 0);
    assert_string_equal(nd.node_id, rfc8032_id);
    assert_memory_equal(nd.ed25519_pk, zt_identity_sign_pk(id), 32);
    assert_memory_equal(nd.kem_pk, zt_identity_kem_pk(id), 32);
    assert_int_equal(nd.n_roles, 2);
    assert_string_equal(nd.roles[1], "gateway");
    assert_int_equal(nd.n_models, 2);
    assert_string_equal(nd.models[0], "tinyllama-1.1b-q4_0");
    assert_string_equal(nd.endpoint, "https://node.example:8443");
    assert_int_equal(nd.expires, NOW + 3600);
    zt_node_descriptor_deinit(&nd);
    zt_node_descriptor_deinit(NULL);
    assert_int_equal(zt_identity_descriptor_verify(d, strlen(d), NOW, NULL), 0);
    /* reformatted but unchanged: still valid */
    assert_int_equal(verify_modified(d, "v", "1"), 0);

    /* expiry */
    assert_int_equal(zt_identity_descriptor_verify(d, strlen(d), NOW + 3600, NULL), ZT_ETIMEDOUT);
    assert_int_equal(zt_identity_descriptor_verify(d, strlen(d), NOW + 7200, &nd), ZT_ETIMEDOUT);
    assert_null(nd.endpoint);

    /* any signed field changed */
    assert_int_equal(verify_modified(d, "endpoint", "\"https://evil.example\""), ZT_ECRYPTO);
    assert_int_equal(verify_modified(d, "expires", "1800000000"), ZT_ECRYPTO);
    assert_int_equal(verify_modified(d, "roles", "[\"worker\"]"), ZT_ECRYPTO);
    assert_int_equal(verify_modified(d, "models", "[\"stories260K\",\"tinyllama-1.1b-q4_0\"]"), ZT_ECRYPTO);
    char hex[80];
    hex[0] = '"';
    sodium_bin2hex(hex + 1, 65, zt_identity_kem_pk(other), 32);
    hex[65] = '"';
    hex[66] = '\0';
    assert_int_equal(verify_modified(d, "kem_pk", hex), ZT_ECRYPTO);
    char oid[64];
    snprintf(oid, sizeof oid, "\"%s\"", zt_identity_id(other));
    assert_int_equal(verify_modified(d, "node_id", oid), ZT_ECRYPTO); /* id not bound to pk */
    /* another node's key and id: consistent binding, but the signature is not theirs */
    {
        json_t *j = json_loads(d, 0, NULL);
        assert_non_null(j);
        sodium_bin2hex(hex, 65, zt_identity_sign_pk(other), 32);
        assert_int_equal(json_object_set_new(j, "ed25519_pk", json_string(hex)), 0);
        assert_int_equal(json_object_set_new(j, "node_id", json_string(zt_identity_id(other))), 0);
        char *s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        assert_int_equal(zt_identity_descriptor_verify(s, strlen(s), NOW, NULL), ZT_ECRYPTO);
        zt_free(s);
    }
    /* signature bytes */
    size_t off = offset_of(d, "\"sig\":\"") + 7;
    for (size_t i = 0; i < 128; i += 7) {
        char c = d[off + i];
        d[off + i] = c == '0' ? '1' : '0';
        assert_int_equal(zt_identity_descriptor_verify(d, strlen(d), NOW, NULL), ZT_ECRYPTO);
        d[off + i] = c;
    }
    /* schema */
    assert_int_equal(verify_modified(d, "v", "2"), ZT_EUNSUPPORTED);
    assert_int_equal(verify_modified(d, "v", "\"1\""), ZT_EPARSE);
    assert_int_equal(verify_modified(d, "sig", NULL), ZT_EPARSE);
    assert_int_equal(verify_modified(d, "endpoint", NULL), ZT_EPARSE);
    assert_int_equal(verify_modified(d, "extra", "true"), ZT_EPARSE);
    assert_int_equal(verify_modified(d, "expires", "\"soon\""), ZT_EPARSE);
    assert_int_equal(verify_modified(d, "expires", "1.5e9"), ZT_EPARSE);
    assert_int_equal(verify_modified(d, "roles", "[1]"), ZT_EPARSE);
    assert_int_equal(verify_modified(d, "roles", "[\"\"]"), ZT_EPARSE);
    assert_int_equal(verify_modified(d, "models", "{}"), ZT_EPARSE);
    assert_int_equal(verify_modified(d, "kem_pk", "\"abcd\""), ZT_EPARSE);
    assert_int_equal(verify_modified(d, "sig", "\"abcd\""), ZT_EPARSE);
    assert_int_equal(verify_modified(d, "node_id", "\"node-1\""), ZT_EPARSE);
    assert_int_equal(zt_identity_descriptor_verify("[]", 2, NOW, NULL), ZT_EPARSE);
    assert_int_equal(zt_identity_descriptor_verify("{", 1, NOW, NULL), ZT_EPARSE);
    assert_int_equal(zt_identity_descriptor_verify(d, ZT_DESCRIPTOR_MAX + 1, NOW, NULL), ZT_ETOOBIG);
    assert_int_equal(zt_identity_descriptor_verify(NULL, 0, NOW, NULL), ZT_EINVAL);
    /* same name, different node: verify against a descriptor of another key */
    char *od = make_descriptor(other, NOW + 10);
    assert_int_equal(zt_identity_descriptor_verify(od, strlen(od), NOW, NULL), 0);
    zt_free(od);

    /* bad arguments when signing */
    char *x = NULL;
    const char *const empty[] = {""};
    assert_int_equal(zt_identity_descriptor(id, empty, 1, NULL, 0, "http://x", NOW, &x), ZT_EINVAL);
    assert_int_equal(zt_identity_descriptor(id, NULL, 0, NULL, 0, "", NOW, &x), ZT_EINVAL);
    assert_int_equal(zt_identity_descriptor(id, NULL, 0, NULL, 0, "http://x", -1, &x), ZT_EINVAL);
    assert_int_equal(zt_identity_descriptor(id, roles, ZT_DESCRIPTOR_MAX_ROLES + 1, NULL, 0, "http://x", NOW, &x),
                     ZT_EINVAL);
    const char *const bad_utf8[] = {"\xff\xfe"};
    assert_int_equal(zt_identity_descriptor(id, NULL, 0, bad_utf8, 1, "http://x", NOW, &x), ZT_EINVAL);
    assert_null(x);
    /* empty lists are fine */
    assert_int_equal(zt_identity_descriptor(id, NULL, 0, NULL, 0, "http://x", NOW + 1, &x), 0);
    assert_int_equal(zt_identity_descriptor_verify(x, strlen(x), NOW, &nd), 0);
    assert_int_equal(nd.n_roles, 0);
    assert_int_equal(nd.n_models, 0);
    zt_node_descriptor_deinit(&nd);
    zt_free(x);

    zt_free(d);
    zt_identity_free(other);
    zt_identity_free(id);
}

/* ---- allocation failures -------------------------------------------------------- */

static void test_alloc_failures(void **state)
{
    (void)state;
    char path[512];
    path_in_tmp(path, sizeof path, "node.key");
    struct zt_identity *id = kat_identity();
    assert_int_equal(zt_identity_save(id, path, pass, strlen(pass), &fast_kdf, 0, NULL), 0);
    struct zt_buf err;
    int rc = -1;
    int64_t n;
    for (n = 1; n < 1000; n++) {
        zt_buf_init(&err, 4096);
        struct zt_identity *back = NULL;
        zt_alloc_fail_after(n);
        rc = zt_identity_load(path, pass, strlen(pass), &back, &err);
        zt_alloc_fail_after(0);
        zt_buf_deinit(&err);
        if (rc == 0) {
            assert_same_identity(id, back);
            zt_identity_free(back);
            break;
        }
        assert_int_equal(rc, ZT_ENOMEM);
        assert_null(back);
        assert_int_equal(zt_alloc_live(), zt_test_leak_base());
    }
    assert_int_equal(rc, 0);
    assert_true(n > 1); /* at least one allocation was failed */

    char *d = make_descriptor(id, NOW + 60);
    for (n = 1; n < 1000; n++) {
        char *x = NULL;
        zt_alloc_fail_after(n);
        rc = zt_identity_descriptor(id, roles, 2, models, 2, "https://node.example:8443", NOW + 60, &x);
        zt_alloc_fail_after(0);
        if (rc == 0) {
            assert_string_equal(x, d);
            zt_free(x);
            break;
        }
        assert_int_equal(rc, ZT_ENOMEM);
        assert_null(x);
        assert_int_equal(zt_alloc_live(), zt_test_leak_base() + 1);
    }
    assert_int_equal(rc, 0);
    for (n = 1; n < 1000; n++) {
        struct zt_node_descriptor nd;
        memset(&nd, 0, sizeof nd);
        zt_alloc_fail_after(n);
        rc = zt_identity_descriptor_verify(d, strlen(d), NOW, &nd);
        zt_alloc_fail_after(0);
        if (rc == 0) {
            assert_string_equal(nd.endpoint, "https://node.example:8443");
            zt_node_descriptor_deinit(&nd);
            break;
        }
        assert_int_equal(rc, ZT_ENOMEM);
        assert_null(nd.endpoint);
        assert_int_equal(zt_alloc_live(), zt_test_leak_base() + 1);
    }
    assert_int_equal(rc, 0);
    zt_free(d);
    zt_identity_free(id);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_node_id_known_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_known_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kem_key_works_with_hpke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_plain_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_passphrase_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
