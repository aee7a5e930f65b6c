/* attest_api.h: GET /v1/attestation/report (internal to src/server).
 *
 * Answers a client's nonce with a software attestation report (zt_attest.h)
 * signed by the node key: the node's keys, the SHA-256 of the running binary
 * (hashed once, at zt__attest_new), the engine build id and the SHA-256 of
 * each loaded model's GGUF file. A model file is hashed the first time the
 * model is reported and the hash kept for its entry while the file's size
 * and modification time stay (zt_attest_hashes, src/crypto/attest.c).
 * Thread-safe. */
#ifndef ZT_SERVER_ATTEST_API_H
#define ZT_SERVER_ATTEST_API_H

#include "req.h"
#include <stdint.h>

#include "zentalk/zt_infer.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_identity.h"

struct zt__attest;

/* id and ms must outlive the result. Hashes /proc/self/exe. ZT_ENOMEM,
 * ZT_EIO (errno kept). */
ZT_NODISCARD int zt__attest_new(const struct zt_identity *id, struct zt_infer *ms,
                                struct zt__attest **out);
void zt__attest_free(struct zt__attest *a);

/* The route: ?nonce=HEX (16..64 bytes) or 400 invalid_request. a may be NULL
 * (no identity given to the server): 503. */
void zt__attest_handle(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
