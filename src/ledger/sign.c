/* sign.c: EIP-712 typed-data hashes of payout batches and the payout key
 * (zt_ledger.h; docs/internals/ledger.md "Signed batches"): a secp256k1
 * secret in sodium_malloc'd memory, signed with libsecp256k1 as wallet
 * login verifies, kept in its own passphrase-protected file (Argon2id +
 * XSalsa20-Poly1305). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_keccak.h"

/* ---- EIP-712 ------------------------------------------------------------------ */

static void word_u64(uint8_t w[32], uint64_t v)
{
    memset(w, 0, 32);
    for (int i = 0; i < 8; i++) w[31 - i] = (uint8_t)(v >> (8 * i));
}

static void word_u128(uint8_t w[32], zt_u128 v)
{
    memset(w, 0, 32);
    for (int i = 0; i < 16; i++) w[31 - i] = (uint8_t)(v >> (8 * i));
}

static void keccak_str(uint8_t out[32], const char *s)
{
    zt_keccak256(out, s, strlen(s));
}

void zt_eip712_domain_separator(const struct zt_eip712_domain *d, uint8_t out[static 32])
{
    uint8_t w[5][32];
    keccak_str(w[0], "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    keccak_str(w[1], d->name);
    keccak_str(w[2], d->version);
    word_u64(w[3], d->chain_id);
    memset(w[4], 0, 12);
    memcpy(w[4] + 12, d->contract, 20);
    zt_keccak256(out, w, sizeof w);
}

void zt_eip712_digest(const uint8_t domain_sep[static 32], const uint8_t struct_hash[static 32],
                      uint8_t out[static 32])
{
    uint8_t m[66] = {0x19, 0x01};
    memcpy(m + 2, domain_sep, 32);
    memcpy(m + 34, struct_hash, 32);
    zt_keccak256(out, m, sizeof m);
}

void zt_payout_batch_hash(uint64_t batch_id, const uint8_t root[static ZT_MERKLE_HASH], zt_u128 total,
                          uint64_t n_leaves, uint8_t out[static 32])
{
    uint8_t w[5][32];
    keccak_str(w[0], ZT_PAYOUT_BATCH_TYPE);
    word_u64(w[1], batch_id);
    memcpy(w[2], root, 32);
    word_u128(w[3], total);
    word_u64(w[4], n_leaves);
    zt_keccak256(out, w, sizeof w);
}

/* ---- the payout key --------------------------------------------------------------- */

struct zt_payout_key {
    uint8_t *sk; /* 32 bytes, sodium_malloc'd (guarded, locked, wiped on free) */
    uint8_t address[20];
};

void zt_payout_key_free(struct zt_payout_key *k)
{
    if (!k) return;
    sodium_free(k->sk);
    zt_free(k);
}

int zt_payout_key_from_secret(const uint8_t sk[static 32], struct zt_payout_key **out)
{
    if (!out) return ZT_EINVAL;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    if (!secp256k1_ec_seckey_verify(secp256k1_context_static, sk)) return ZT_EINVAL;
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (!ctx) return ZT_ENOMEM;
    secp256k1_pubkey pk;
    uint8_t ser[65], h[32];
    size_t sl = sizeof ser;
    bool ok = secp256k1_ec_pubkey_create(ctx, &pk, sk) &&
              secp256k1_ec_pubkey_serialize(ctx, ser, &sl, &pk, SECP256K1_EC_UNCOMPRESSED) && sl == 65;
    secp256k1_context_destroy(ctx);
    if (!ok) return ZT_ECRYPTO;
    struct zt_payout_key *k = zt_calloc(1, sizeof *k);
    if (!k) return ZT_ENOMEM;
    k->sk = sodium_malloc(32);
    if (!k->sk) {
        zt_free(k);
        return ZT_ENOMEM;
    }
    memcpy(k->sk, sk, 32);
    zt_keccak256(h, ser + 1, 64);
    memcpy(k->address, h + 12, 20);
    *out = k;
    return 0;
}

int zt_payout_key_generate(struct zt_payout_key **out)
{
    if (!out) return ZT_EINVAL;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    uint8_t *sk = sodium_malloc(32);
    if (!sk) return ZT_ENOMEM;
    int rc;
    do {
        randombytes_buf(sk, 32);
        rc = zt_payout_key_from_secret(sk, out);
    } while (rc == ZT_EINVAL); /* a zero or >= n secret: about 2^-128 */
    sodium_free(sk);
    return rc;
}

void zt_payout_key_address(const struct zt_payout_key *k, uint8_t out[static 20])
{
    memcpy(out, k->address, 20);
}

int zt_payout_key_sign(const struct zt_payout_key *k, const uint8_t digest[static 32],
                       uint8_t sig[static ZT_EIP712_SIG_LEN])
{
    if (!k) return ZT_EINVAL;
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (!ctx) return ZT_ENOMEM;
    uint8_t seed[32];
    randombytes_buf(seed, sizeof seed);
    int rc = ZT_ECRYPTO, recid = 0;
    secp256k1_ecdsa_recoverable_signature rs;
    if (secp256k1_context_randomize(ctx, seed) && secp256k1_ecdsa_sign_recoverable(ctx, &rs, digest, k->sk, NULL, NULL) &&
        secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, sig, &recid, &rs)) {
        sig[64] = (uint8_t)(27 + recid);
        rc = 0;
    }
    secp256k1_context_destroy(ctx);
    return rc;
}

/* ---- the key file ----------------------------------------------------------------- */

#define KEYFILE_KIND "zentalk-payout-key"
#define KEYFILE_MAX 4096
#define CT_LEN (32 + crypto_secretbox_MACBYTES)

static int kdf_key(uint8_t key[static crypto_secretbox_KEYBYTES], const char *pass, size_t pass_len,
                   const uint8_t salt[static crypto_pwhash_SALTBYTES], uint64_t ops, size_t mem)
{
    if (crypto_pwhash(key, crypto_secretbox_KEYBYTES, pass, pass_len, salt, ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return ZT_ENOMEM;
    return 0;
}

static bool kdf_in_bounds(uint64_t ops, size_t mem)
{
    return ops >= ZT_IDENTITY_KDF_OPSLIMIT_MIN && ops <= ZT_IDENTITY_KDF_OPSLIMIT_MAX &&
           mem >= ZT_IDENTITY_KDF_MEMLIMIT_MIN && mem <= ZT_IDENTITY_KDF_MEMLIMIT_MAX;
}

int zt_payout_key_save(const struct zt_payout_key *k, const char *path, const char *pass, size_t pass_len,
                       const struct zt_payout_kdf *kdf)
{
    if (!k || !path || !pass || pass_len == 0) return ZT_EINVAL;
    uint64_t ops = kdf && kdf->opslimit ? kdf->opslimit : ZT_IDENTITY_KDF_OPSLIMIT;
    size_t mem = kdf && kdf->memlimit ? kdf->memlimit : ZT_IDENTITY_KDF_MEMLIMIT;
    if (!kdf_in_bounds(ops, mem)) return ZT_ERANGE;
    uint8_t salt[crypto_pwhash_SALTBYTES], nonce[crypto_secretbox_NONCEBYTES], ct[CT_LEN];
    uint8_t *key = sodium_malloc(crypto_secretbox_KEYBYTES);
    if (!key) return ZT_ENOMEM;
    randombytes_buf(salt, sizeof salt);
    randombytes_buf(nonce, sizeof nonce);
    int rc = kdf_key(key, pass, pass_len, salt, ops, mem);
    sodium_mprotect_readonly(key);
    if (rc) {
        sodium_free(key);
        return rc;
    }
    crypto_secretbox_easy(ct, k->sk, 32, nonce, key);
    sodium_free(key);
    char addr[43], salt_h[2 * sizeof salt + 1], nonce_h[2 * sizeof nonce + 1], ct_h[2 * CT_LEN + 1];
    addr[0] = '0';
    addr[1] = 'x';
    zt_hex_encode(addr + 2, k->address, 20);
    zt_hex_encode(salt_h, salt, sizeof salt);
    zt_hex_encode(nonce_h, nonce, sizeof nonce);
    zt_hex_encode(ct_h, ct, sizeof ct);
    char text[KEYFILE_MAX];
    int n = snprintf(text, sizeof text,
                     "{\"version\": 1, \"kind\": \"" KEYFILE_KIND "\", \"address\": \"%s\",\n"
                     " \"kdf\": \"argon2id13\", \"opslimit\": %llu, \"memlimit\": %zu,\n"
                     " \"salt\": \"%s\", \"nonce\": \"%s\", \"ciphertext\": \"%s\"}\n",
                     addr, (unsigned long long)ops, mem, salt_h, nonce_h, ct_h);
    if (n < 0 || (size_t)n >= sizeof text) return ZT_ETOOBIG;
    if (access(path, F_OK) == 0) return ZT_EEXIST;
    return zt__ledger_write_file(path, text, (size_t)n, 0600);
}

static int hex_field(json_t *root, const char *key, uint8_t *out, size_t n)
{
    const char *s = json_string_value(json_object_get(root, key));
    return s && zt_hex_decode_str(out, n, s, ZT_HEX_LOWER) == 0 ? 0 : ZT_EPARSE;
}

int zt_payout_key_load(const char *path, const char *pass, size_t pass_len, struct zt_payout_key **out)
{
    if (!path || !pass || !out) return ZT_EINVAL;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    struct stat sb;
    if (stat(path, &sb) != 0) return errno == ENOENT ? ZT_ENOTFOUND : ZT_EIO;
    if (!S_ISREG(sb.st_mode) || (sb.st_mode & 077)) return ZT_EPERM;
    char *text = NULL;
    size_t len = 0;
    json_t *root = NULL;
    uint8_t *sk = NULL, *key = NULL;
    int rc = zt_file_read(path, KEYFILE_MAX, &text, &len);
    if (rc) goto out;
    json_error_t jerr;
    rc = ZT_EPARSE;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) goto out;
    json_t *ver = json_object_get(root, "version"), *ops_j = json_object_get(root, "opslimit"),
           *mem_j = json_object_get(root, "memlimit");
    const char *kind = json_string_value(json_object_get(root, "kind"));
    const char *kdf = json_string_value(json_object_get(root, "kdf"));
    if (!json_is_integer(ver) || json_integer_value(ver) != 1 || !kind || strcmp(kind, KEYFILE_KIND) != 0 ||
        !kdf || strcmp(kdf, "argon2id13") != 0 || !json_is_integer(ops_j) || !json_is_integer(mem_j) ||
        json_integer_value(ops_j) < 0 || json_integer_value(mem_j) < 0)
        goto out;
    uint64_t ops = (uint64_t)json_integer_value(ops_j);
    size_t mem = (size_t)json_integer_value(mem_j);
    uint8_t salt[crypto_pwhash_SALTBYTES], nonce[crypto_secretbox_NONCEBYTES], ct[CT_LEN], addr[20];
    const char *as = json_string_value(json_object_get(root, "address"));
    if (hex_field(root, "salt", salt, sizeof salt) || hex_field(root, "nonce", nonce, sizeof nonce) ||
        hex_field(root, "ciphertext", ct, sizeof ct) || !as || zt_ledger_parse_address(as, addr))
        goto out;
    if (!kdf_in_bounds(ops, mem)) {
        rc = ZT_ERANGE;
        goto out;
    }
    sk = sodium_malloc(32);
    key = sodium_malloc(crypto_secretbox_KEYBYTES);
    if (!sk || !key) {
        rc = ZT_ENOMEM;
        goto out;
    }
    if ((rc = kdf_key(key, pass, pass_len, salt, ops, mem))) goto out;
    if (crypto_secretbox_open_easy(sk, ct, sizeof ct, nonce, key) != 0) {
        rc = ZT_ECRYPTO;
        goto out;
    }
    struct zt_payout_key *k = NULL;
    if ((rc = zt_payout_key_from_secret(sk, &k))) goto out;
    if (memcmp(k->address, addr, 20) != 0) { /* the file's address was altered */
        zt_payout_key_free(k);
        rc = ZT_ECRYPTO;
        goto out;
    }
    *out = k;
out:
    sodium_free(sk);
    sodium_free(key);
    json_decref(root);
    zt_free(text);
    return rc;
}
