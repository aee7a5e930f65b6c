/* identity.c: node identity keys, key files and signed node descriptors.
 * Contract in include/zentalk/zt_identity.h, design in
 * docs/internals/identity.md. Primitives are libsodium's: Ed25519
 * (crypto_sign), X25519 (via zt_hpke), BLAKE2b (crypto_generichash),
 * Argon2id (crypto_pwhash) and XChaCha20-Poly1305 (crypto_aead_*_ietf). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hpke.h"
#include "zentalk/zt_identity.h"
#include "identity_int.h"
#include "json_doc.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_str.h"

#define ID_PREFIX "zt1"
#define ID_DOMAIN "zentalk-node-id-v1"
#define ID_HASH_BYTES 20 /* of BLAKE2b-256, base32: 32 characters */
#define KEYFILE_KIND "zentalk-node-key"
#define KEYFILE_AD "zentalk-node-key-v1"
#define ENC_NONE "none"
#define ENC_ARGON "argon2id-xchacha20poly1305"
#define SECRET_LEN (ZT_ED25519_SEED_LEN + ZT_X25519_LEN) /* ed25519 seed || x25519 sk */
#define SALT_LEN crypto_pwhash_SALTBYTES
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KEY_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define PATH_CAP 4096

/* The whole struct lives in sodium_malloc'd memory (guard pages, mlock,
 * wiped by sodium_free). */
struct zt_identity {
    uint8_t ed_sk[crypto_sign_SECRETKEYBYTES]; /* seed || pk, libsodium layout */
    uint8_t x_sk[ZT_X25519_LEN];
    uint8_t ed_pk[ZT_ED25519_PK_LEN];
    uint8_t x_pk[ZT_X25519_LEN];
    char id[ZT_IDENTITY_ID_SIZE];
};

static uint64_t kdf_ops_max = ZT_IDENTITY_KDF_OPSLIMIT_MAX;
static size_t kdf_mem_max = ZT_IDENTITY_KDF_MEMLIMIT_MAX;

void zt__identity_test_set_kdf_max(uint64_t opslimit_max, size_t memlimit_max)
{
    kdf_ops_max = opslimit_max ? opslimit_max : ZT_IDENTITY_KDF_OPSLIMIT_MAX;
    kdf_mem_max = memlimit_max ? memlimit_max : ZT_IDENTITY_KDF_MEMLIMIT_MAX;
}

static void say(struct zt_buf *err, const char *msg)
{
    if (err) zt_ignore(zt_buf_append_str(err, msg));
}

/* ---- Keys ---------------------------------------------------------------- */

void zt_identity_node_id(const uint8_t ed25519_pk[static ZT_ED25519_PK_LEN],
                         char out[static ZT_IDENTITY_ID_SIZE])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    uint8_t h[crypto_generichash_BYTES];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const uint8_t *)ID_DOMAIN, sizeof ID_DOMAIN - 1);
    crypto_generichash_update(&st, ed25519_pk, ZT_ED25519_PK_LEN);
    crypto_generichash_final(&st, h, sizeof h);
    memcpy(out, ID_PREFIX, 3);
    size_t o = 3;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < ID_HASH_BYTES; i++) {
        acc = (acc << 8) | h[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = alphabet[(acc >> bits) & 31u];
        }
    }
    /* 160 bits is a multiple of 5: nothing left over, no padding */
    out[o] = '\0';
}

bool zt_identity_id_valid(const char *s)
{
    if (!s || strlen(s) != ZT_IDENTITY_ID_LEN || memcmp(s, ID_PREFIX, 3) != 0) return false;
    for (size_t i = 3; i < ZT_IDENTITY_ID_LEN; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7'))) return false;
    return true;
}

static struct zt_identity *identity_alloc(void)
{
    struct zt_identity *id = sodium_malloc(sizeof *id);
    if (id) sodium_memzero(id, sizeof *id);
    return id;
}

int zt_identity_from_secret(const uint8_t ed25519_seed[static ZT_ED25519_SEED_LEN],
                            const uint8_t x25519_sk[static ZT_X25519_LEN], struct zt_identity **out)
{
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    struct zt_identity *id = identity_alloc();
    if (!id) return ZT_ENOMEM;
    if (crypto_sign_seed_keypair(id->ed_pk, id->ed_sk, ed25519_seed) != 0) goto fail;
    memcpy(id->x_sk, x25519_sk, ZT_X25519_LEN);
    if (zt_hpke_public_key(id->x_sk, id->x_pk) != 0) goto fail;
    zt_identity_node_id(id->ed_pk, id->id);
    *out = id;
    return 0;
fail:
    sodium_free(id);
    return ZT_ECRYPTO;
}

int zt_identity_generate(struct zt_identity **out)
{
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    uint8_t *secret = sodium_malloc(SECRET_LEN);
    if (!secret) return ZT_ENOMEM;
    randombytes_buf(secret, ZT_ED25519_SEED_LEN);
    int rc = zt_hpke_keypair(secret + ZT_ED25519_SEED_LEN, (uint8_t[ZT_X25519_LEN]){0});
    if (rc == 0) rc = zt_identity_from_secret(secret, secret + ZT_ED25519_SEED_LEN, out);
    sodium_free(secret);
    return rc;
}

void zt_identity_free(struct zt_identity *id)
{
    if (id) sodium_free(id);
}

const char *zt_identity_id(const struct zt_identity *id) { return id->id; }
const uint8_t *zt_identity_sign_pk(const struct zt_identity *id) { return id->ed_pk; }
const uint8_t *zt_identity_kem_pk(const struct zt_identity *id) { return id->x_pk; }
const uint8_t *zt_identity_kem_sk(const struct zt_identity *id) { return id->x_sk; }
const uint8_t *zt_identity_sign_sk(const struct zt_identity *id) { return id->ed_sk; }

int zt_identity_sign(const struct zt_identity *id, const uint8_t *msg, size_t msg_len,
                     uint8_t sig[static ZT_ED25519_SIG_LEN])
{
    if (!id || (!msg && msg_len)) return ZT_EINVAL;
    if (crypto_sign_detached(sig, NULL, msg_len ? msg : (const uint8_t *)"", msg_len, id->ed_sk) != 0)
        return ZT_ECRYPTO;
    return 0;
}

int zt_identity_verify(const uint8_t pk[static ZT_ED25519_PK_LEN], const uint8_t *msg, size_t msg_len,
                       const uint8_t sig[static ZT_ED25519_SIG_LEN])
{
    if (!msg && msg_len) return ZT_EINVAL;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    return crypto_sign_verify_detached(sig, msg_len ? msg : (const uint8_t *)"", msg_len, pk) == 0
               ? 0
               : ZT_ECRYPTO;
}

/* ---- Hex ------------------------------------------------------------------ */

/* ---- Key file: parse --------------------------------------------------------- */

static const char *const keys_plain[] = {"version", "kind", "node_id", "ed25519_pk",
                                         "x25519_pk", "encryption", "secret", NULL};
static const char *const keys_argon[] = {"version", "kind", "node_id", "ed25519_pk", "x25519_pk",
                                         "encryption", "secret", "salt", "opslimit", "memlimit",
                                         "nonce", NULL};

static int check_key_set(json_t *root, const char *const *keys, struct zt_buf *err)
{
    size_t n = 0;
    for (; keys[n]; n++)
        if (!json_object_get(root, keys[n])) {
            zt_buf_sayf(err, "key file: missing \"%s\"", keys[n]);
            return ZT_EPARSE;
        }
    if (json_object_size(root) != n) {
        const char *k;
        json_t *v;
        json_object_foreach(root, k, v) {
            bool known = false;
            for (size_t i = 0; keys[i]; i++) known = known || strcmp(k, keys[i]) == 0;
            if (!known) {
                zt_buf_sayf(err, "key file: unexpected key \"%.64s\"", k);
                break;
            }
        }
        return ZT_EPARSE;
    }
    return 0;
}

static const char *str_field(json_t *root, const char *key)
{
    return json_string_value(json_object_get(root, key));
}

/* Derive the key-file key from the passphrase into key (sodium memory). */
static int derive_key(uint8_t key[static KEY_LEN], const char *pass, size_t pass_len,
                      const uint8_t salt[static SALT_LEN], uint64_t ops, size_t mem)
{
    if (crypto_pwhash(key, KEY_LEN, pass, pass_len, salt, ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return ZT_ENOMEM; /* libsodium fails here only when it cannot allocate */
    return 0;
}

int zt_identity_parse(const char *text, size_t len, const char *pass, size_t pass_len,
                      struct zt_identity **out, struct zt_buf *err)
{
    int rc = ZT_EPARSE;
    json_t *root = NULL;
    uint8_t *secret = NULL, *key = NULL;
    struct zt_identity *id = NULL;
    uint8_t ed_pk[ZT_ED25519_PK_LEN], x_pk[ZT_X25519_LEN];
    uint8_t salt[SALT_LEN], nonce[NONCE_LEN], ct[SECRET_LEN + TAG_LEN];

    if (!text || !out) return ZT_EINVAL;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    if (len > ZT_IDENTITY_KEYFILE_MAX) {
        say(err, "key file is too large (over 4096 bytes)");
        return ZT_ETOOBIG;
    }
    json_error_t jerr;
    if ((rc = zt__json_doc_load(text, len, &root, &jerr)) != 0) {
        if (rc == ZT_EPARSE && err) {
            zt_ignore(zt_buf_appendf(err, "key file is not valid JSON: line %d column %d: %.80s",
                                     jerr.line, jerr.column, jerr.text));
        }
        goto out;
    }
    rc = ZT_EPARSE;
    if (!json_is_object(root)) {
        say(err, "key file is not a JSON object");
        goto out;
    }
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver)) {
        say(err, "key file: \"version\" missing or not an integer");
        goto out;
    }
    if (json_integer_value(ver) != 1) {
        say(err, "key file version is not supported (this build reads version 1)");
        rc = ZT_EUNSUPPORTED;
        goto out;
    }
    if (!zt_str_eq(str_field(root, "kind"), KEYFILE_KIND)) {
        say(err, "key file: \"kind\" is not \"" KEYFILE_KIND "\"");
        goto out;
    }
    const char *enc = str_field(root, "encryption");
    bool encrypted;
    if (!enc) {
        say(err, "key file: \"encryption\" missing or not a string");
        goto out;
    } else if (strcmp(enc, ENC_NONE) == 0) {
        encrypted = false;
    } else if (strcmp(enc, ENC_ARGON) == 0) {
        encrypted = true;
    } else {
        zt_buf_sayf(err, "key file: unsupported encryption \"%.40s\"", enc);
        rc = ZT_EUNSUPPORTED;
        goto out;
    }
    if ((rc = check_key_set(root, encrypted ? keys_argon : keys_plain, err)) != 0) goto out;
    rc = ZT_EPARSE;
    const char *node_id = str_field(root, "node_id");
    if (!zt_identity_id_valid(node_id)) {
        say(err, "key file: \"node_id\" is not a node id");
        goto out;
    }
    if (zt_hex_decode_str(ed_pk, sizeof ed_pk, str_field(root, "ed25519_pk"), ZT_HEX_LOWER) != 0 ||
        zt_hex_decode_str(x_pk, sizeof x_pk, str_field(root, "x25519_pk"), ZT_HEX_LOWER) != 0) {
        say(err, "key file: public keys must be 64 lower-case hex digits");
        goto out;
    }
    secret = sodium_malloc(SECRET_LEN);
    if (!secret) {
        rc = ZT_ENOMEM;
        goto out;
    }
    json_t *jsecret = json_object_get(root, "secret");
    if (!encrypted) {
        if (zt_hex_decode_str(secret, SECRET_LEN, json_string_value(jsecret), ZT_HEX_LOWER) != 0) {
            say(err, "key file: \"secret\" must be 128 lower-case hex digits");
            goto out;
        }
    } else {
        json_t *jops = json_object_get(root, "opslimit"), *jmem = json_object_get(root, "memlimit");
        if (zt_hex_decode_str(ct, sizeof ct, json_string_value(jsecret), ZT_HEX_LOWER) != 0 ||
            zt_hex_decode_str(salt, sizeof salt, str_field(root, "salt"), ZT_HEX_LOWER) != 0 ||
            zt_hex_decode_str(nonce, sizeof nonce, str_field(root, "nonce"), ZT_HEX_LOWER) != 0) {
            say(err, "key file: \"secret\", \"salt\" or \"nonce\" is not hex of the right length");
            goto out;
        }
        if (!json_is_integer(jops) || !json_is_integer(jmem)) {
            say(err, "key file: \"opslimit\" and \"memlimit\" must be integers");
            goto out;
        }
        json_int_t ops = json_integer_value(jops), mem = json_integer_value(jmem);
        if (ops < (json_int_t)ZT_IDENTITY_KDF_OPSLIMIT_MIN || (uint64_t)ops > kdf_ops_max ||
            mem < (json_int_t)ZT_IDENTITY_KDF_MEMLIMIT_MIN || (uint64_t)mem > kdf_mem_max) {
            if (err)
                zt_ignore(zt_buf_appendf(err,
                                         "key file: Argon2id cost out of bounds (opslimit %u..%llu, "
                                         "memlimit %zu..%zu bytes)",
                                         ZT_IDENTITY_KDF_OPSLIMIT_MIN, (unsigned long long)kdf_ops_max,
                                         ZT_IDENTITY_KDF_MEMLIMIT_MIN, kdf_mem_max));
            rc = ZT_ERANGE;
            goto out;
        }
        if (!pass || pass_len == 0) {
            say(err, "key file is protected by a passphrase and none was given");
            rc = ZT_EINVAL;
            goto out;
        }
        key = sodium_malloc(KEY_LEN);
        if (!key) {
            rc = ZT_ENOMEM;
            goto out;
        }
        if ((rc = derive_key(key, pass, pass_len, salt, (uint64_t)ops, (size_t)mem)) != 0) {
            say(err, "key derivation failed (out of memory)");
            goto out;
        }
        uint8_t ad[sizeof KEYFILE_AD - 1 + ZT_ED25519_PK_LEN + ZT_X25519_LEN];
        memcpy(ad, KEYFILE_AD, sizeof KEYFILE_AD - 1);
        memcpy(ad + sizeof KEYFILE_AD - 1, ed_pk, sizeof ed_pk);
        memcpy(ad + sizeof KEYFILE_AD - 1 + sizeof ed_pk, x_pk, sizeof x_pk);
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(secret, NULL, NULL, ct, sizeof ct, ad,
                                                       sizeof ad, nonce, key) != 0) {
            say(err, "wrong passphrase or corrupted key file");
            rc = ZT_ECRYPTO;
            goto out;
        }
    }
    rc = zt_identity_from_secret(secret, secret + ZT_ED25519_SEED_LEN, &id);
    if (rc) goto out;
    if (sodium_memcmp(id->ed_pk, ed_pk, sizeof ed_pk) != 0 ||
        sodium_memcmp(id->x_pk, x_pk, sizeof x_pk) != 0 || strcmp(id->id, node_id) != 0) {
        say(err, "key file is corrupted: its public keys or node id do not match its secret keys");
        rc = ZT_ECRYPTO;
        goto out;
    }
    *out = id;
    id = NULL;
    rc = 0;
out:
    if (root) {
        /* jansson's copy of the secret's hex: wipe before it goes back to the heap */
        if (json_is_object(root)) zt__json_wipe_string(json_object_get(root, "secret"));
        json_decref(root);
    }
    sodium_free(secret);
    sodium_free(key);
    zt_identity_free(id);
    return rc;
}

int zt_identity_load(const char *path, const char *pass, size_t pass_len, struct zt_identity **out,
                     struct zt_buf *err)
{
    int rc = ZT_EIO, fd = -1;
    char *buf = NULL;
    if (!path || !out) return ZT_EINVAL;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (err) zt_ignore(zt_buf_appendf(err, "cannot open key file %s: %s", path, strerror(e)));
        errno = e;
        return e == ENOENT ? ZT_ENOTFOUND : (e == EACCES ? ZT_EPERM : ZT_EIO);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        if (err) zt_ignore(zt_buf_appendf(err, "cannot stat key file %s: %s", path, strerror(errno)));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        if (err) zt_ignore(zt_buf_appendf(err, "key file %s is not a regular file", path));
        rc = ZT_EPERM;
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        if (err)
            zt_ignore(zt_buf_appendf(err,
                                     "key file %s is accessible by group or others (mode %03o); "
                                     "refusing to use it: run chmod 600 %s",
                                     path, (unsigned)(st.st_mode & 0777), path));
        rc = ZT_EPERM;
        goto out;
    }
    if (st.st_size > (off_t)ZT_IDENTITY_KEYFILE_MAX) {
        if (err) zt_ignore(zt_buf_appendf(err, "key file %s is too large (over 4096 bytes)", path));
        rc = ZT_ETOOBIG;
        goto out;
    }
    buf = sodium_malloc(ZT_IDENTITY_KEYFILE_MAX + 1);
    if (!buf) {
        rc = ZT_ENOMEM;
        goto out;
    }
    size_t len = 0;
    if (zt_fd_read_full(fd, buf, ZT_IDENTITY_KEYFILE_MAX + 1, &len) != 0) {
        if (err) zt_ignore(zt_buf_appendf(err, "cannot read key file %s: %s", path, strerror(errno)));
        goto out;
    }
    if (len > ZT_IDENTITY_KEYFILE_MAX) {
        if (err) zt_ignore(zt_buf_appendf(err, "key file %s is too large (over 4096 bytes)", path));
        rc = ZT_ETOOBIG;
        goto out;
    }
    size_t before = err ? err->len : 0;
    rc = zt_identity_parse(buf, len, pass, pass_len, out, err);
    if (rc && err && err->len > before) zt_ignore(zt_buf_appendf(err, " (%s)", path));
out:
    if (buf) sodium_free(buf);
    if (fd >= 0) close(fd);
    return rc;
}

/* ---- Key file: write --------------------------------------------------------- */

static int dir_of(const char *path, char *dir, size_t cap)
{
    if (zt_strlcpy(dir, path, cap) >= cap) return ZT_ETOOBIG;
    char *slash = strrchr(dir, '/');
    if (!slash) {
        zt_strlcpy(dir, ".", cap);
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
    return 0;
}

/* Build the key file text into a sodium_malloc'd buffer (*text, *len). */
static int keyfile_text(const struct zt_identity *id, const char *pass, size_t pass_len,
                        const struct zt_identity_kdf *kdf, char **text, size_t *len)
{
    int rc = ZT_ENOMEM;
    enum { CAP = 2048 };
    uint8_t *secret = NULL, *key = NULL;
    char *hex = NULL, *buf = NULL;
    bool encrypted = pass && pass_len > 0;
    char ed_hex[2 * ZT_ED25519_PK_LEN + 1], x_hex[2 * ZT_X25519_LEN + 1];
    char salt_hex[2 * SALT_LEN + 1] = "", nonce_hex[2 * NONCE_LEN + 1] = "";
    uint8_t salt[SALT_LEN], nonce[NONCE_LEN];

    secret = sodium_malloc(SECRET_LEN + TAG_LEN);
    hex = sodium_malloc(2 * (SECRET_LEN + TAG_LEN) + 1);
    buf = sodium_malloc(CAP);
    if (!secret || !hex || !buf) goto out;
    memcpy(secret, id->ed_sk, ZT_ED25519_SEED_LEN); /* libsodium's sk starts with the seed */
    memcpy(secret + ZT_ED25519_SEED_LEN, id->x_sk, ZT_X25519_LEN);
    sodium_bin2hex(ed_hex, sizeof ed_hex, id->ed_pk, sizeof id->ed_pk);
    sodium_bin2hex(x_hex, sizeof x_hex, id->x_pk, sizeof id->x_pk);
    int n;
    if (!encrypted) {
        sodium_bin2hex(hex, 2 * SECRET_LEN + 1, secret, SECRET_LEN);
        n = snprintf(buf, CAP,
                     "{\n  \"ed25519_pk\": \"%s\",\n  \"encryption\": \"" ENC_NONE "\",\n"
                     "  \"kind\": \"" KEYFILE_KIND "\",\n  \"node_id\": \"%s\",\n"
                     "  \"secret\": \"%s\",\n  \"version\": 1,\n  \"x25519_pk\": \"%s\"\n}\n",
                     ed_hex, id->id, hex, x_hex);
    } else {
        uint64_t ops = kdf ? kdf->opslimit : ZT_IDENTITY_KDF_OPSLIMIT;
        size_t mem = kdf ? kdf->memlimit : ZT_IDENTITY_KDF_MEMLIMIT;
        if (ops < ZT_IDENTITY_KDF_OPSLIMIT_MIN || ops > ZT_IDENTITY_KDF_OPSLIMIT_MAX ||
            mem < ZT_IDENTITY_KDF_MEMLIMIT_MIN || mem > ZT_IDENTITY_KDF_MEMLIMIT_MAX) {
            rc = ZT_ERANGE;
            goto out;
        }
        key = sodium_malloc(KEY_LEN);
        if (!key) goto out;
        randombytes_buf(salt, sizeof salt);
        randombytes_buf(nonce, sizeof nonce);
        if ((rc = derive_key(key, pass, pass_len, salt, ops, mem)) != 0) goto out;
        uint8_t ad[sizeof KEYFILE_AD - 1 + ZT_ED25519_PK_LEN + ZT_X25519_LEN];
        memcpy(ad, KEYFILE_AD, sizeof KEYFILE_AD - 1);
        memcpy(ad + sizeof KEYFILE_AD - 1, id->ed_pk, ZT_ED25519_PK_LEN);
        memcpy(ad + sizeof KEYFILE_AD - 1 + ZT_ED25519_PK_LEN, id->x_pk, ZT_X25519_LEN);
        /* in place: the plaintext secret becomes ciphertext || tag */
        if (crypto_aead_xchacha20poly1305_ietf_encrypt(secret, NULL, secret, SECRET_LEN, ad, sizeof ad,
                                                       NULL, nonce, key) != 0) {
            rc = ZT_ECRYPTO;
            goto out;
        }
        sodium_bin2hex(hex, 2 * (SECRET_LEN + TAG_LEN) + 1, secret, SECRET_LEN + TAG_LEN);
        sodium_bin2hex(salt_hex, sizeof salt_hex, salt, sizeof salt);
        sodium_bin2hex(nonce_hex, sizeof nonce_hex, nonce, sizeof nonce);
        n = snprintf(buf, CAP,
                     "{\n  \"ed25519_pk\": \"%s\",\n  \"encryption\": \"" ENC_ARGON "\",\n"
                     "  \"kind\": \"" KEYFILE_KIND "\",\n  \"memlimit\": %zu,\n"
                     "  \"node_id\": \"%s\",\n  \"nonce\": \"%s\",\n  \"opslimit\": %llu,\n"
                     "  \"salt\": \"%s\",\n  \"secret\": \"%s\",\n  \"version\": 1,\n"
                     "  \"x25519_pk\": \"%s\"\n}\n",
                     ed_hex, mem, id->id, nonce_hex, (unsigned long long)ops, salt_hex, hex, x_hex);
    }
    if (n < 0 || n >= CAP) {
        rc = ZT_ETOOBIG;
        goto out;
    }
    *text = buf;
    *len = (size_t)n;
    buf = NULL;
    rc = 0;
out:
    sodium_free(secret);
    sodium_free(key);
    sodium_free(hex);
    sodium_free(buf);
    return rc;
}

int zt_identity_save(const struct zt_identity *id, const char *path, const char *pass,
                     size_t pass_len, const struct zt_identity_kdf *kdf, unsigned flags,
                     struct zt_buf *err)
{
    int rc, fd = -1, dfd = -1;
    char *text = NULL;
    size_t len = 0;
    char tmp[PATH_CAP], dir[PATH_CAP];
    bool tmp_made = false;
    if (!id || !path || !*path) return ZT_EINVAL;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp || dir_of(path, dir, sizeof dir) != 0) {
        say(err, "key file path is too long");
        return ZT_ETOOBIG;
    }
    bool overwrite = (flags & ZT_IDENTITY_OVERWRITE) != 0;
    struct stat st;
    if (!overwrite && lstat(path, &st) == 0) {
        if (err)
            zt_ignore(zt_buf_appendf(err, "%s already exists; refusing to overwrite a key file", path));
        return ZT_EEXIST;
    }
    rc = keyfile_text(id, pass, pass_len, kdf, &text, &len);
    if (rc) {
        if (rc == ZT_ERANGE) say(err, "Argon2id cost out of bounds");
        goto out;
    }
    rc = ZT_EIO;
    fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        if (err) zt_ignore(zt_buf_appendf(err, "cannot create a file in %s: %s", dir, strerror(errno)));
        goto out;
    }
    tmp_made = true;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fchmod(fd, 0600) != 0 || zt_fd_write_full(fd, text, len) != 0 ||
        fsync(fd) != 0) {
        if (err) zt_ignore(zt_buf_appendf(err, "cannot write %s: %s", tmp, strerror(errno)));
        goto out;
    }
    int c = close(fd);
    fd = -1;
    if (c != 0) {
        if (err) zt_ignore(zt_buf_appendf(err, "cannot write %s: %s", tmp, strerror(errno)));
        goto out;
    }
    if (overwrite) {
        if (rename(tmp, path) != 0) {
            if (err) zt_ignore(zt_buf_appendf(err, "cannot rename to %s: %s", path, strerror(errno)));
            goto out;
        }
    } else {
        /* link() fails if path appeared meanwhile: never replace a key */
        if (link(tmp, path) != 0) {
            int e = errno;
            if (err) zt_ignore(zt_buf_appendf(err, "cannot create %s: %s", path, strerror(e)));
            rc = e == EEXIST ? ZT_EEXIST : ZT_EIO;
            goto out;
        }
        unlink(tmp);
    }
    tmp_made = false;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        if (err) zt_ignore(zt_buf_appendf(err, "cannot fsync directory %s: %s", dir, strerror(errno)));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) close(fd);
    if (dfd >= 0) close(dfd);
    if (tmp_made) unlink(tmp);
    sodium_free(text);
    return rc;
}

/* Forget what was appended to err since it had len bytes. */
static void err_truncate(struct zt_buf *err, size_t len)
{
    if (err && err->len > len) {
        err->len = len;
        err->data[len] = '\0';
    }
}

int zt_identity_load_or_create(const char *path, const char *pass, size_t pass_len,
                               const struct zt_identity_kdf *kdf, struct zt_identity **out,
                               bool *created, struct zt_buf *err)
{
    struct zt_identity *id = NULL;
    if (!out || !created) return ZT_EINVAL;
    size_t before = err ? err->len : 0;
    int rc = zt_identity_load(path, pass, pass_len, &id, err);
    if (rc == ZT_ENOTFOUND) {
        err_truncate(err, before);
        if ((rc = zt_identity_generate(&id)) != 0) return rc;
        rc = zt_identity_save(id, path, pass, pass_len, kdf, 0, err);
        if (rc == 0) {
            *out = id;
            *created = true;
            return 0;
        }
        zt_identity_free(id);
        id = NULL;
        if (rc != ZT_EEXIST) return rc;
        /* another process created it meanwhile: use theirs */
        err_truncate(err, before);
        rc = zt_identity_load(path, pass, pass_len, &id, err);
    }
    if (rc) return rc;
    *out = id;
    *created = false;
    return 0;
}

/* ---- Descriptors ----------------------------------------------------------- */

static const char *const desc_keys[] = {"v",      "node_id",  "ed25519_pk", "kem_pk", "roles",
                                        "models", "endpoint", "expires",    "sig",    NULL};

static bool good_str(const char *s, size_t max)
{
    if (!s) return false;
    size_t n = strlen(s);
    return n > 0 && n <= max && zt_utf8_valid(s, n);
}

static json_t *hex_string(const uint8_t *p, size_t n)
{
    char hex[2 * ZT_ED25519_SIG_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, p, n);
    return json_string(hex);
}

static json_t *str_array(const char *const *v, size_t n, size_t max)
{
    json_t *a = json_array();
    if (!a) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!good_str(v[i], max) || json_array_append_new(a, json_string(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Canonical bytes: compact, sorted keys (zt_malloc'd, NUL-terminated). */
static int canonical_max(json_t *j, size_t max, char **out, size_t *len)
{
    const size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
    size_t n = json_dumpb(j, NULL, 0, flags);
    if (n == 0 || n > max) return n == 0 ? ZT_ENOMEM : ZT_ETOOBIG;
    char *buf = zt_malloc(n + 1);
    if (!buf) return ZT_ENOMEM;
    if (json_dumpb(j, buf, n, flags) != n) {
        zt_free(buf);
        return ZT_ENOMEM;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int zt_identity_sign_json(const struct zt_identity *id, json_t *obj, size_t max, char **out)
{
    uint8_t sig[ZT_ED25519_SIG_LEN];
    char *body = NULL;
    size_t len;
    int rc = canonical_max(obj, max, &body, &len);
    if (!rc) rc = zt_identity_sign(id, (const uint8_t *)body, len, sig);
    zt_free(body);
    body = NULL;
    if (!rc) rc = json_object_set_new(obj, "sig", hex_string(sig, sizeof sig)) != 0 ? ZT_ENOMEM : 0;
    if (!rc) rc = canonical_max(obj, max, &body, &len);
    if (!rc) *out = body;
    return rc;
}

int zt_identity_verify_json(const uint8_t pk[static ZT_ED25519_PK_LEN], json_t *obj, size_t max)
{
    uint8_t sig[ZT_ED25519_SIG_LEN];
    const char *hex = json_string_value(json_object_get(obj, "sig"));
    if (zt_hex_decode_str(sig, sizeof sig, hex, ZT_HEX_ANY_CASE) != 0) return ZT_EPARSE;
    if (json_object_del(obj, "sig") != 0) return ZT_EPARSE;
    char *body = NULL;
    size_t len;
    int rc = canonical_max(obj, max, &body, &len);
    if (!rc) rc = zt_identity_verify(pk, (const uint8_t *)body, len, sig);
    zt_free(body);
    return rc;
}

int zt_identity_record_parse(const char *json, size_t len, size_t max, const char *kind,
                             uint8_t pk[static ZT_ED25519_PK_LEN], const char **claimed, json_t **out)
{
    if (!json) return ZT_EINVAL;
    if (len > max) return ZT_ETOOBIG;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    const char *nid = json_string_value(json_object_get(o, "node_id"));
    if (!json_is_object(o) || !zt_str_eq(json_string_value(json_object_get(o, "kind")), kind) ||
        !json_is_integer(json_object_get(o, "v")) || !json_is_string(json_object_get(o, "sig")) || !nid ||
        !zt_identity_id_valid(nid) ||
        zt_hex_decode_str(pk, ZT_ED25519_PK_LEN, json_string_value(json_object_get(o, "ed25519_pk")),
                          ZT_HEX_LOWER) != 0) {
        json_decref(o);
        return ZT_EPARSE;
    }
    *claimed = nid;
    *out = o;
    return 0;
}

int zt_identity_record_verify(json_t *obj, const uint8_t pk[static ZT_ED25519_PK_LEN], const char *claimed,
                              char node_id[static ZT_IDENTITY_ID_SIZE], size_t max)
{
    if (json_integer_value(json_object_get(obj, "v")) != 1) return ZT_EUNSUPPORTED;
    zt_identity_node_id(pk, node_id);
    if (strcmp(node_id, claimed) != 0) return ZT_ECRYPTO;
    return zt_identity_verify_json(pk, obj, max);
}

int zt_identity_record_verify_exp(json_t *obj, const uint8_t pk[static ZT_ED25519_PK_LEN], const char *claimed,
                                  char node_id[static ZT_IDENTITY_ID_SIZE], size_t max, int64_t now, int64_t *exp)
{
    int rc = zt_identity_record_verify(obj, pk, claimed, node_id, max);
    if (rc) return rc;
    int64_t e = (int64_t)json_integer_value(json_object_get(obj, "exp"));
    if (e <= now || e > now + ZT_IDENTITY_RECORD_MAX_AHEAD_S) return ZT_ETIMEDOUT;
    *exp = e;
    return 0;
}

int zt_identity_descriptor(const struct zt_identity *id, const char *const *roles, size_t n_roles,
                           const char *const *models, size_t n_models, const char *endpoint,
                           int64_t expires_unix, char **out)
{
    int rc = ZT_EINVAL;
    json_t *j = NULL, *jr = NULL, *jm = NULL;
    if (!id || !out || (n_roles && !roles) || (n_models && !models) ||
        n_roles > ZT_DESCRIPTOR_MAX_ROLES || n_models > ZT_DESCRIPTOR_MAX_MODELS ||
        !good_str(endpoint, ZT_DESCRIPTOR_MAX_ENDPOINT) || expires_unix < 0)
        return ZT_EINVAL;
    for (size_t i = 0; i < n_roles; i++)
        if (!good_str(roles[i], ZT_DESCRIPTOR_MAX_STR)) return ZT_EINVAL;
    for (size_t i = 0; i < n_models; i++)
        if (!good_str(models[i], ZT_DESCRIPTOR_MAX_STR)) return ZT_EINVAL;
    rc = ZT_ENOMEM;
    j = json_object();
    jr = str_array(roles, n_roles, ZT_DESCRIPTOR_MAX_STR);
    jm = str_array(models, n_models, ZT_DESCRIPTOR_MAX_STR);
    if (!j || !jr || !jm) goto out;
    if (json_object_set_new(j, "v", json_integer(1)) != 0 ||
        json_object_set_new(j, "node_id", json_string(id->id)) != 0 ||
        json_object_set_new(j, "ed25519_pk", hex_string(id->ed_pk, sizeof id->ed_pk)) != 0 ||
        json_object_set_new(j, "kem_pk", hex_string(id->x_pk, sizeof id->x_pk)) != 0 ||
        json_object_set(j, "roles", jr) != 0 || json_object_set(j, "models", jm) != 0 ||
        json_object_set_new(j, "endpoint", json_string(endpoint)) != 0 ||
        json_object_set_new(j, "expires", json_integer((json_int_t)expires_unix)) != 0)
        goto out;
    rc = zt_identity_sign_json(id, j, ZT_DESCRIPTOR_MAX, out); /* *out only on success */
out:
    json_decref(jr);
    json_decref(jm);
    json_decref(j);
    return rc;
}

void zt_node_descriptor_deinit(struct zt_node_descriptor *d)
{
    if (!d) return;
    for (size_t i = 0; d->roles && i < d->n_roles; i++) zt_free(d->roles[i]);
    for (size_t i = 0; d->models && i < d->n_models; i++) zt_free(d->models[i]);
    zt_free(d->roles);
    zt_free(d->models);
    zt_free(d->endpoint);
    memset(d, 0, sizeof *d);
}

/* Check a JSON array of strings; 0 or ZT_EPARSE. */
static int check_str_array(json_t *a, size_t max_n)
{
    if (!json_is_array(a) || json_array_size(a) > max_n) return ZT_EPARSE;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > ZT_DESCRIPTOR_MAX_STR)
            return ZT_EPARSE;
    }
    return 0;
}

static int copy_str_array(json_t *a, char ***out, size_t *n_out)
{
    size_t n = json_array_size(a);
    *out = NULL;
    *n_out = 0;
    if (n == 0) return 0;
    char **v = zt_calloc(n, sizeof *v);
    if (!v) return ZT_ENOMEM;
    *out = v;
    for (size_t i = 0; i < n; i++) {
        v[i] = zt_strdup(json_string_value(json_array_get(a, i)));
        if (!v[i]) return ZT_ENOMEM;
        *n_out = i + 1;
    }
    return 0;
}

int zt_identity_descriptor_verify(const char *json, size_t len, int64_t now,
                                  struct zt_node_descriptor *out)
{
    int rc = ZT_EPARSE;
    json_t *j = NULL;
    struct zt_node_descriptor d;
    memset(&d, 0, sizeof d);
    uint8_t sig[ZT_ED25519_SIG_LEN];
    if (!json) return ZT_EINVAL;
    if (len > ZT_DESCRIPTOR_MAX) return ZT_ETOOBIG;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    if ((rc = zt__json_doc_load(json, len, &j, NULL)) != 0) goto out;
    if ((rc = zt__json_doc_shape(j, desc_keys, 1)) != 0) goto out;
    rc = ZT_EPARSE;
    const char *node_id = json_string_value(json_object_get(j, "node_id"));
    const char *endpoint = json_string_value(json_object_get(j, "endpoint"));
    json_t *jexp = json_object_get(j, "expires");
    json_t *jroles = json_object_get(j, "roles"), *jmodels = json_object_get(j, "models");
    if (!zt_identity_id_valid(node_id) || !endpoint || !*endpoint ||
        strlen(endpoint) > ZT_DESCRIPTOR_MAX_ENDPOINT || !json_is_integer(jexp) ||
        json_integer_value(jexp) < 0 || check_str_array(jroles, ZT_DESCRIPTOR_MAX_ROLES) != 0 ||
        check_str_array(jmodels, ZT_DESCRIPTOR_MAX_MODELS) != 0 ||
        zt_hex_decode_str(d.ed25519_pk, sizeof d.ed25519_pk, json_string_value(json_object_get(j, "ed25519_pk")), ZT_HEX_LOWER) != 0 ||
        zt_hex_decode_str(d.kem_pk, sizeof d.kem_pk, json_string_value(json_object_get(j, "kem_pk")), ZT_HEX_LOWER) != 0 ||
        zt_hex_decode_str(sig, sizeof sig, json_string_value(json_object_get(j, "sig")), ZT_HEX_LOWER) != 0)
        goto out;
    if ((rc = zt__json_doc_signed_by(j, d.ed25519_pk, node_id, d.node_id, ZT_DESCRIPTOR_MAX)) != 0) goto out;
    d.expires = (int64_t)json_integer_value(jexp);
    if (d.expires <= now) {
        rc = ZT_ETIMEDOUT;
        goto out;
    }
    if (out) {
        rc = ZT_ENOMEM;
        d.endpoint = zt_strdup(endpoint);
        if (!d.endpoint || copy_str_array(jroles, &d.roles, &d.n_roles) != 0 ||
            copy_str_array(jmodels, &d.models, &d.n_models) != 0)
            goto out;
        *out = d;
        memset(&d, 0, sizeof d);
    }
    rc = 0;
out:
    zt_node_descriptor_deinit(&d);
    json_decref(j);
    return rc;
}
