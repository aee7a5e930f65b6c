/* zt_nodeauth.h: signed node-to-node HTTP requests.
 *
 * A node calling another signs the request with its Ed25519 identity key
 * (zt_identity.h) and sends four headers:
 *
 *   Zentalk-Node:      zt1...            the sender's node id
 *   Zentalk-Date:      1767225600        unix seconds, decimal
 *   Zentalk-Nonce:     32 hex digits     16 random bytes
 *   Zentalk-Signature: base64 (88 chars) Ed25519 over the canonical string
 *
 * The canonical string (zt_nodeauth_canonical) is, lines joined by "\n"
 * with no trailing newline:
 *
 *   zentalk-node-request-v1
 *   <sender node id>
 *   <receiver node id>
 *   <METHOD>
 *   <request target: path and query as sent, percent-encoding untouched>
 *   <date>
 *   <nonce>
 *   <hex SHA-256 of the body>
 *
 * The receiver accepts it when the sender is in its peer registry
 * (zt_peers.h), the date is within ZT_NODEAUTH_WINDOW_S of its clock, the
 * signature verifies, and the signature was not seen before (a bounded
 * replay cache). The receiver id binds a request to one node: a peer cannot
 * replay what it received to a third node. See docs/internals/nodeauth.md. */
#ifndef ZT_NODEAUTH_H
#define ZT_NODEAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"
#include "zt_identity.h"
#include "zt_peers.h"

#define ZT_NODEAUTH_WINDOW_S 300         /* accepted clock difference, seconds */
#define ZT_NODEAUTH_NONCE_HEX 32         /* 16 bytes */
#define ZT_NODEAUTH_SIG_B64 88           /* base64 (with padding) of 64 bytes */
#define ZT_NODEAUTH_TARGET_MAX 2048      /* longest request target signed */
#define ZT_NODEAUTH_METHOD_MAX 16
#define ZT_NODEAUTH_CACHE_DEFAULT 131072 /* signatures remembered */

#define ZT_NODEAUTH_H_NODE "Zentalk-Node"
#define ZT_NODEAUTH_H_DATE "Zentalk-Date"
#define ZT_NODEAUTH_H_NONCE "Zentalk-Nonce"
#define ZT_NODEAUTH_H_SIG "Zentalk-Signature"
/* The same signature on a gateway's calls to its orchestrator's lease and
 * report routes (zt_orch_client.h), under names of their own, so the
 * server's check of node callers leaves them alone. */
#define ZT_NODEAUTH_GW_H_NODE "Zentalk-Gateway"
#define ZT_NODEAUTH_GW_H_DATE "Zentalk-Gateway-Date"
#define ZT_NODEAUTH_GW_H_NONCE "Zentalk-Gateway-Nonce"
#define ZT_NODEAUTH_GW_H_SIG "Zentalk-Gateway-Signature"

/* The four header values, NUL-terminated. */
struct zt_nodeauth_headers {
    char node[ZT_IDENTITY_ID_SIZE];
    char date[24];
    char nonce[ZT_NODEAUTH_NONCE_HEX + 1];
    char sig[ZT_NODEAUTH_SIG_B64 + 1];
};

/* The header values, parsed. */
struct zt_nodeauth_parsed {
    char node[ZT_IDENTITY_ID_SIZE];
    int64_t date;
    char nonce[ZT_NODEAUTH_NONCE_HEX + 1];
    uint8_t sig[ZT_ED25519_SIG_LEN];
};

/* Append the canonical string to out. method: 1..16 upper-case letters;
 * target: starts with '/', 1..2048 printable ASCII bytes; nonce: 32
 * lower-case hex digits; from/to: node ids. ZT_EINVAL for anything else,
 * ZT_ETOOBIG/ZT_ENOMEM from out. */
ZT_NODISCARD int zt_nodeauth_canonical(const char *from, const char *to, const char *method,
                                       const char *target, int64_t date, const char *nonce,
                                       const uint8_t body_sha256[static 32], struct zt_buf *out);

/* Sign a request from id to the node to_id, at time now, with a fresh
 * nonce; fills *out. ZT_EINVAL (bad argument), ZT_ENOMEM, ZT_ECRYPTO. */
ZT_NODISCARD int zt_nodeauth_sign(const struct zt_identity *id, const char *to_id, const char *method,
                                  const char *target, const void *body, size_t body_len, int64_t now,
                                  struct zt_nodeauth_headers *out);

/* Append the four headers ("Name: value") to *list (a libcurl header list;
 * NULL starts one). On ZT_ENOMEM *list is unchanged in what it held but
 * may have grown by some headers; free it with curl_slist_free_all either
 * way. */
struct curl_slist;
ZT_NODISCARD int zt_nodeauth_curl_headers(const struct zt_nodeauth_headers *h, struct curl_slist **list);

/* Parse the four header values (any may be NULL: missing). Strict: a valid
 * node id; date 1..18 decimal digits without a leading zero; nonce exactly
 * 32 lower-case hex digits; signature exactly 88 characters of standard
 * base64 with padding decoding to 64 bytes. ZT_EPARSE otherwise. */
ZT_NODISCARD int zt_nodeauth_parse(const char *node, const char *date, const char *nonce, const char *sig,
                                   struct zt_nodeauth_parsed *out);

/* The receiving side: a replay cache of up to cache_max signatures (0: the
 * default). Thread-safe. ZT_ENOMEM, ZT_EINVAL. */
struct zt_nodeauth_verifier;
ZT_NODISCARD int zt_nodeauth_verifier_new(size_t cache_max, struct zt_nodeauth_verifier **out);
void zt_nodeauth_verifier_free(struct zt_nodeauth_verifier *v);

/* Verify a parsed request addressed to self_id at time now against peers.
 * In order: ZT_ETIMEDOUT date outside +-ZT_NODEAUTH_WINDOW_S; ZT_ENOTFOUND
 * sender not registered (or its descriptor expired); ZT_ECRYPTO bad
 * signature (or a target/method that cannot be canonical); ZT_EEXIST the
 * signature was seen within the window (a replay); ZT_EBUSY the replay
 * cache is full of live entries (refuse rather than forget); ZT_ENOMEM.
 * Only a valid signature enters the cache. *why (may be NULL) gets a short
 * static reason. */
ZT_NODISCARD int zt_nodeauth_verify(struct zt_nodeauth_verifier *v, struct zt_peers *peers,
                                    const char *self_id, const char *method, const char *target,
                                    const void *body, size_t body_len,
                                    const struct zt_nodeauth_parsed *p, int64_t now, const char **why);

/* Signatures held in the cache now (for tests and metrics). */
size_t zt_nodeauth_cache_size(struct zt_nodeauth_verifier *v);

#endif
