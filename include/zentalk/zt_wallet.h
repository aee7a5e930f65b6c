/* zt_wallet.h: Web3 wallet login (src/crypto/wallet.c); the routes are
 * src/server/wallet_api.c.
 *
 * The client asks for a nonce for its address, signs the message the server
 * returns with personal_sign (EIP-191), and trades address, message and
 * signature for a session token. The server recovers the signer with
 * libsecp256k1 (recoverable ECDSA) and Keccak-256, and accepts the login
 * only for the exact message it issued, once, before it expires.
 *
 * Sessions are opaque random tokens (32 bytes, base64url, 43 characters);
 * the table keeps only their SHA-256, an expiry and the address. Both
 * tables are bounded and in memory: a restart logs every wallet out. */
#ifndef ZT_WALLET_H
#define ZT_WALLET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_auth.h"
#include "zt_error.h"
#include "zt_keccak.h"

#define ZT_WALLET_ADDR_LEN 20
#define ZT_WALLET_SIG_LEN 65
#define ZT_WALLET_ADDR_STR 43         /* "0x" + 40 hex + NUL */
#define ZT_WALLET_TOKEN_LEN 43        /* base64url of 32 bytes, no padding */
#define ZT_WALLET_NONCE_TTL_S 300     /* a nonce is good for 5 minutes */
#define ZT_WALLET_MAX_NONCES 4096     /* live nonces are never evicted for others' */
#define ZT_WALLET_NONCES_PER_PAIR 4   /* per (address, source): a 5th replaces the pair's oldest */
#define ZT_WALLET_NONCES_PER_SOURCE 64 /* live nonces one client address may hold */
#define ZT_WALLET_NONCES_PER_ADDRESS 32 /* live nonces for one wallet address, all sources */
#define ZT_WALLET_MAX_SESSIONS 65536  /* soonest-expiring evicted when full */
#define ZT_WALLET_MSG_MAX 512         /* longest message the server issues */

/* ---- primitives' wrappers (no state) ---- */

/* Keccak-256 and the EIP-191 hash: zt_keccak.h (src/crypto). */

/* "0x" + 40 hex digits (either case; EIP-55 checksums are not required).
 * ZT_EPARSE otherwise. */
ZT_NODISCARD int zt_wallet_parse_address(const char *s, uint8_t out[ZT_WALLET_ADDR_LEN]);
/* "0x" + 130 hex digits: r || s || v. ZT_EPARSE otherwise. */
ZT_NODISCARD int zt_wallet_parse_sig(const char *s, uint8_t out[ZT_WALLET_SIG_LEN]);
/* EIP-55 mixed-case checksum form of an address. */
void zt_wallet_format_address(const uint8_t addr[ZT_WALLET_ADDR_LEN], char out[ZT_WALLET_ADDR_STR]);

/* Recover the address that signed hash with sig (r || s || v, v in
 * {0, 1, 27, 28}). Signatures with s above the curve order's half
 * (malleable), r or s out of range, or another v are refused: ZT_ECRYPTO. */
ZT_NODISCARD int zt_wallet_recover(const uint8_t hash[32], const uint8_t sig[ZT_WALLET_SIG_LEN],
                                    uint8_t addr[ZT_WALLET_ADDR_LEN]);
/* True when sig is a personal_sign signature of msg by addr. */
bool zt_wallet_verify_personal(const void *msg, size_t n, const uint8_t sig[ZT_WALLET_SIG_LEN],
                                const uint8_t addr[ZT_WALLET_ADDR_LEN]);

/* A session token from an Authorization value "Bearer <43 base64url>"
 * (scheme case-insensitive). ZT_EPARSE otherwise. */
ZT_NODISCARD int zt_wallet_parse_bearer(const char *value, const char **tok, size_t *len);

/* ---- nonces and sessions ---- */

struct zt_wallet;

/* session_ttl_s >= 1. ZT_EINVAL, ZT_ENOMEM. */
ZT_NODISCARD int zt_wallet_new(int64_t session_ttl_s, struct zt_wallet **out);
void zt_wallet_free(struct zt_wallet *w);

/* Issue a nonce for addr at now_s, asked by source (the client's address
 * as text; NULL or "" = one shared source): the message to sign
 * (NUL-terminated, at most ZT_WALLET_MSG_MAX bytes with the NUL) and its
 * expiry. A live nonce is never evicted for another client: a source asking
 * again for the same address replaces its own oldest beyond
 * ZT_WALLET_NONCES_PER_PAIR; else ZT_EPERM when source already holds
 * ZT_WALLET_NONCES_PER_SOURCE live nonces or addr holds
 * ZT_WALLET_NONCES_PER_ADDRESS (retry after a nonce expires or is used),
 * ZT_EBUSY when the table holds ZT_WALLET_MAX_NONCES live ones. */
ZT_NODISCARD int zt_wallet_nonce(struct zt_wallet *w, const uint8_t addr[ZT_WALLET_ADDR_LEN],
                                  const char *source, int64_t now_s, char *msg, size_t msg_size,
                                  char nonce[33], int64_t *expires_at);
/* Check a login: msg must be a message issued for addr, unused and not
 * expired (it is used up by this call whatever the outcome), and sig its
 * personal_sign signature by addr. On success writes a new session token
 * (NUL-terminated) and its expiry. ZT_ENOTFOUND: unknown, used or expired
 * message; ZT_ECRYPTO: bad signature; *why says which. */
ZT_NODISCARD int zt_wallet_login(struct zt_wallet *w, const uint8_t addr[ZT_WALLET_ADDR_LEN],
                                  const char *msg, size_t msg_len, const uint8_t sig[ZT_WALLET_SIG_LEN],
                                  int64_t now_s, char token[ZT_WALLET_TOKEN_LEN + 1],
                                  int64_t *expires_at, const char **why);
/* The principal of a live session token ("wallet:0x<addr>" lowercase,
 * role user). ZT_ENOTFOUND for unknown, revoked or expired. */
ZT_NODISCARD int zt_wallet_session(struct zt_wallet *w, const char *tok, size_t len, int64_t now_s,
                                    struct zt_auth_principal *out);
/* Revoke a session. ZT_ENOTFOUND when it was not live. */
ZT_NODISCARD int zt_wallet_logout(struct zt_wallet *w, const char *tok, size_t len, int64_t now_s);
/* The live sessions of addr (GDPR export): creation and expiry, never the
 * token (the table holds only its hash). Writes up to cap, returns how
 * many there are. */
struct zt_wallet_session_info {
    int64_t created_s, expires_s;
};
size_t zt_wallet_list(struct zt_wallet *w, const uint8_t addr[ZT_WALLET_ADDR_LEN], int64_t now_s,
                       struct zt_wallet_session_info *out, size_t cap);
/* Revoke every session of addr and drop its pending nonces (GDPR erase);
 * returns the number of sessions revoked. */
size_t zt_wallet_revoke_address(struct zt_wallet *w, const uint8_t addr[ZT_WALLET_ADDR_LEN]);
/* Retention: drop expired nonces (and wipe used ones) and expired
 * sessions; the counts of expired ones go to *nonces / *sessions (may be
 * NULL). */
void zt_wallet_sweep(struct zt_wallet *w, int64_t now_s, size_t *nonces, size_t *sessions);
/* Live sessions (for tests and status). */
size_t zt_wallet_sessions(struct zt_wallet *w, int64_t now_s);

#endif
