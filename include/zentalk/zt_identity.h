/* zt_identity.h: node identity keys, key files and signed node descriptors.
 *
 * A node has an Ed25519 signing key and an X25519 KEM key (the HPKE
 * DHKEM(X25519) recipient key of zt_hpke.h). Its id is derived from the
 * signing public key:
 *
 *   id = "zt1" || base32(BLAKE2b-256("zentalk-node-id-v1" || ed25519_pk)[0..20])
 *
 * base32: RFC 4648 alphabet in lower case, no padding (20 bytes -> 32
 * characters, so ids are always 35 characters).
 *
 *   struct zt_identity *id = NULL;
 *   int rc = zt_identity_load("data/node.key", pass, pass_len, &id, &err);
 *   ...
 *   zt_identity_free(id);
 *
 * Secrets (both private keys, the passphrase-derived key, decrypted key
 * file contents) live in sodium_malloc'd memory and are wiped on every
 * path. Every function returns 0 or a negative ZT_E*; anything that fails for
 * a cryptographic reason returns ZT_ECRYPTO and nothing more specific.
 * Functions taking a `struct zt_buf *err` append a human-readable reason to
 * it (may be NULL); never any secret. See docs/internals/identity.md. */
#ifndef ZT_IDENTITY_H
#define ZT_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"

#define ZT_ED25519_PK_LEN 32
#define ZT_ED25519_SEED_LEN 32
#define ZT_ED25519_SIG_LEN 64
#ifndef ZT_X25519_LEN
#define ZT_X25519_LEN 32
#endif
#define ZT_IDENTITY_ID_LEN 35  /* "zt1" + 32 base32 characters */
#define ZT_IDENTITY_ID_SIZE 36 /* with the NUL */

/* Bounds on key files and descriptors (anything larger is ZT_ETOOBIG). */
#define ZT_IDENTITY_KEYFILE_MAX ((size_t)4096)
#define ZT_DESCRIPTOR_MAX ((size_t)65536)
#define ZT_DESCRIPTOR_MAX_ROLES 16
#define ZT_DESCRIPTOR_MAX_MODELS 256
#define ZT_DESCRIPTOR_MAX_STR 256      /* bytes of one role or model name */
#define ZT_DESCRIPTOR_MAX_ENDPOINT 512 /* bytes of the endpoint URL */

/* An identity: both key pairs and the derived id. Opaque. */
struct zt_identity;

/* ---- Keys ---------------------------------------------------------------- */

/* A fresh random identity (libsodium randombytes). *out is written only on
 * success; free with zt_identity_free(). ZT_ENOMEM, ZT_ECRYPTO. */
ZT_NODISCARD int zt_identity_generate(struct zt_identity **out);

/* A deterministic identity from its two secrets: the Ed25519 seed (RFC 8032
 * private key) and the X25519 private key. The inputs stay the caller's
 * (keep them in sodium_malloc'd memory). For tests and key import. */
ZT_NODISCARD int zt_identity_from_secret(const uint8_t ed25519_seed[static ZT_ED25519_SEED_LEN],
                                         const uint8_t x25519_sk[static ZT_X25519_LEN],
                                         struct zt_identity **out);

/* Wipe and free (sodium_free). NULL is a no-op. */
void zt_identity_free(struct zt_identity *id);

/* The node id ("zt1...", NUL-terminated, owned by id). */
const char *zt_identity_id(const struct zt_identity *id);
/* The public keys (32 bytes each, owned by id). */
const uint8_t *zt_identity_sign_pk(const struct zt_identity *id);
const uint8_t *zt_identity_kem_pk(const struct zt_identity *id);
/* The X25519 private key, in id's sodium_malloc'd memory, for
 * zt_hpke_open()/zt_hpke_setup_receiver(). Valid until zt_identity_free();
 * never copy it into ordinary memory. */
const uint8_t *zt_identity_kem_sk(const struct zt_identity *id);
/* The Ed25519 secret key in libsodium's 64-byte layout (seed || public key),
 * in id's sodium_malloc'd memory, for zt_env_receipt_sign(). Valid until
 * zt_identity_free(); never copy it into ordinary memory. */
const uint8_t *zt_identity_sign_sk(const struct zt_identity *id);

/* The id of an Ed25519 public key, as above, into out (NUL-terminated). */
void zt_identity_node_id(const uint8_t ed25519_pk[static ZT_ED25519_PK_LEN],
                         char out[static ZT_IDENTITY_ID_SIZE]);

/* True if s is a well-formed id ("zt1" + 32 of [a-z2-7]). It says nothing
 * about which key it belongs to. */
bool zt_identity_id_valid(const char *s);

/* Ed25519 signature (detached) of msg with id's signing key. */
ZT_NODISCARD int zt_identity_sign(const struct zt_identity *id, const uint8_t *msg, size_t msg_len,
                                  uint8_t sig[static ZT_ED25519_SIG_LEN]);

/* 0 if sig is pk's signature of msg, else ZT_ECRYPTO. */
ZT_NODISCARD int zt_identity_verify(const uint8_t pk[static ZT_ED25519_PK_LEN], const uint8_t *msg,
                                    size_t msg_len, const uint8_t sig[static ZT_ED25519_SIG_LEN]);

/* ---- Key files ------------------------------------------------------------ */

/* Argon2id cost for passphrase-protected key files (crypto_pwhash). */
struct zt_identity_kdf {
    uint64_t opslimit;
    size_t memlimit; /* bytes */
};
/* Defaults: libsodium's MODERATE (3 passes, 256 MiB; about 0.5-1 s). */
#define ZT_IDENTITY_KDF_OPSLIMIT 3u
#define ZT_IDENTITY_KDF_MEMLIMIT ((size_t)256 << 20)
/* What a key file may ask for; a file asking more is refused (ZT_ERANGE)
 * before any work, so a hostile file cannot burn minutes or GiB. */
#define ZT_IDENTITY_KDF_OPSLIMIT_MIN 1u
#define ZT_IDENTITY_KDF_OPSLIMIT_MAX 8u
#define ZT_IDENTITY_KDF_MEMLIMIT_MIN ((size_t)8192)
#define ZT_IDENTITY_KDF_MEMLIMIT_MAX ((size_t)1 << 30)

enum {
    ZT_IDENTITY_OVERWRITE = 1u << 0, /* replace an existing file (else ZT_EEXIST) */
};

/* Write id to path, atomically: a 0600 temporary file in the same
 * directory, fsync, rename, fsync of the directory. With a passphrase
 * (pass != NULL, pass_len > 0) the secrets are encrypted with
 * XChaCha20-Poly1305 under Argon2id(pass) with kdf's cost (NULL: the
 * defaults above). ZT_EEXIST: path exists and flags lack
 * ZT_IDENTITY_OVERWRITE; ZT_ERANGE: kdf out of bounds; ZT_EIO (errno kept),
 * ZT_ETOOBIG (path too long), ZT_ENOMEM, ZT_ECRYPTO. */
ZT_NODISCARD int zt_identity_save(const struct zt_identity *id, const char *path, const char *pass,
                                  size_t pass_len, const struct zt_identity_kdf *kdf,
                                  unsigned flags, struct zt_buf *err);

/* Read a key file. ZT_ENOTFOUND: no file; ZT_EPERM: the file is group- or
 * other-accessible (like ssh, fix with chmod 600) or not a regular file;
 * ZT_EIO: read error; otherwise as zt_identity_parse(). */
ZT_NODISCARD int zt_identity_load(const char *path, const char *pass, size_t pass_len,
                                  struct zt_identity **out, struct zt_buf *err);

/* Parse key file text (len bytes, need not be NUL-terminated). Errors:
 *   ZT_ETOOBIG       over ZT_IDENTITY_KEYFILE_MAX;
 *   ZT_EPARSE        not JSON, duplicate/missing/extra keys, wrong types,
 *                    bad hex or wrong lengths, "kind" not zentalk-node-key;
 *   ZT_EUNSUPPORTED  "version" other than 1 or an unknown "encryption";
 *   ZT_ERANGE        opslimit/memlimit outside the bounds above;
 *   ZT_EINVAL        the file is encrypted and no passphrase was given;
 *   ZT_ECRYPTO       wrong passphrase or corrupted file, or public keys /
 *                    node_id that do not match the secret keys.
 * A passphrase given for an unencrypted file is ignored. */
ZT_NODISCARD int zt_identity_parse(const char *text, size_t len, const char *pass, size_t pass_len,
                                   struct zt_identity **out, struct zt_buf *err);

/* Load path, or on ZT_ENOTFOUND generate a new identity and save it there
 * (never overwriting: a file that appears meanwhile is loaded instead).
 * *created says which happened. Errors as zt_identity_load() and
 * zt_identity_save(). */
ZT_NODISCARD int zt_identity_load_or_create(const char *path, const char *pass, size_t pass_len,
                                            const struct zt_identity_kdf *kdf,
                                            struct zt_identity **out, bool *created,
                                            struct zt_buf *err);

/* ---- Signed node descriptors ------------------------------------------------ */

/* A node descriptor, as zt_identity_descriptor_verify() returns it. Strings
 * and arrays are zt_malloc'd; release with zt_node_descriptor_deinit(). */
struct zt_node_descriptor {
    char node_id[ZT_IDENTITY_ID_SIZE];
    uint8_t ed25519_pk[ZT_ED25519_PK_LEN];
    uint8_t kem_pk[ZT_X25519_LEN];
    char **roles;
    size_t n_roles;
    char **models;
    size_t n_models;
    char *endpoint;
    int64_t expires; /* unix seconds */
};

/* Build and sign id's descriptor: canonical JSON (sorted keys, no spaces)
 *   {"endpoint":..., "ed25519_pk":hex, "expires":N, "kem_pk":hex,
 *    "models":[...], "node_id":"zt1...", "roles":[...], "sig":hex, "v":1}
 * where sig is Ed25519 over the same canonical JSON without "sig". roles and
 * models are UTF-8 strings within the bounds above. *out (NUL-terminated,
 * free with zt_free) is written only on success. ZT_EINVAL: a bad or
 * oversized argument; ZT_ENOMEM. */
ZT_NODISCARD int zt_identity_descriptor(const struct zt_identity *id, const char *const *roles,
                                        size_t n_roles, const char *const *models,
                                        size_t n_models, const char *endpoint,
                                        int64_t expires_unix, char **out);

/* Check a descriptor: schema (exact key set, types, bounds; ZT_EPARSE or
 * ZT_ETOOBIG), "v" (ZT_EUNSUPPORTED), node_id derived from ed25519_pk and a
 * valid signature (ZT_ECRYPTO), then expiry: expires <= now is
 * ZT_ETIMEDOUT. out (may be NULL) is filled only on success. */
ZT_NODISCARD int zt_identity_descriptor_verify(const char *json, size_t len, int64_t now,
                                               struct zt_node_descriptor *out);

/* Free what a verified descriptor holds and zero it. NULL is a no-op. */
void zt_node_descriptor_deinit(struct zt_node_descriptor *d);

/* Signed JSON objects (descriptors, attestation reports): "sig" is the hex
 * Ed25519 signature over the object's canonical form (compact, keys sorted)
 * without "sig". zt_identity_sign_json adds "sig" to obj and returns the
 * canonical text (free with zt_free); ZT_ETOOBIG beyond max bytes.
 * zt_identity_verify_json checks obj["sig"] against pk and removes it from
 * obj: 0, ZT_EPARSE (no or malformed "sig") or ZT_ECRYPTO. obj is a jansson
 * json_t object. */
struct json_t;
ZT_NODISCARD int zt_identity_sign_json(const struct zt_identity *id, struct json_t *obj, size_t max, char **out);
ZT_NODISCARD int zt_identity_verify_json(const uint8_t pk[static ZT_ED25519_PK_LEN], struct json_t *obj, size_t max);

/* The steps every small signed record shares (a DHT revocation, a mesh
 * holder record, a dbsync head). zt_identity_record_parse: *out = the JSON
 * object in json (len bytes; duplicate keys refused) with the fields every
 * record has: "kind" is kind, "v" an integer, "sig" a string, "node_id" a
 * well-formed node id (*claimed, valid while *out is), "ed25519_pk" 64
 * lowercase hex digits (decoded into pk). ZT_EINVAL (json NULL),
 * ZT_ETOOBIG (len over max), ZT_EPARSE (not a JSON object, or one of those
 * fields wrong; nothing to free). Then the caller checks its own fields
 * (ZT_EPARSE), and zt_identity_record_verify checks the rest: "v" is 1
 * (else ZT_EUNSUPPORTED), claimed is pk's id, written to node_id (else
 * ZT_ECRYPTO), and "sig" is pk's signature (zt_identity_verify_json,
 * max). */
ZT_NODISCARD int zt_identity_record_parse(const char *json, size_t len, size_t max, const char *kind,
                                          uint8_t pk[static ZT_ED25519_PK_LEN], const char **claimed,
                                          struct json_t **out);
ZT_NODISCARD int zt_identity_record_verify(struct json_t *obj, const uint8_t pk[static ZT_ED25519_PK_LEN],
                                           const char *claimed, char node_id[static ZT_IDENTITY_ID_SIZE],
                                           size_t max);
/* A record that expires (a mesh holder record, a dbsync head): after
 * zt_identity_record_verify, its "exp" (unix seconds; the caller checked
 * it is an integer) must be after now and at most
 * ZT_IDENTITY_RECORD_MAX_AHEAD_S ahead, else ZT_ETIMEDOUT; *exp = it on
 * success. */
#define ZT_IDENTITY_RECORD_MAX_AHEAD_S 86400 /* a record may not claim to live longer than a day */
ZT_NODISCARD int zt_identity_record_verify_exp(struct json_t *obj, const uint8_t pk[static ZT_ED25519_PK_LEN],
                                               const char *claimed, char node_id[static ZT_IDENTITY_ID_SIZE],
                                               size_t max, int64_t now, int64_t *exp);

#endif
