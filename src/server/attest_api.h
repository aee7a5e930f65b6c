/* attest_api.h: GET /v1/attestation/report (internal to src/server).
 *
 * Answers a client's nonce with a software attestation report (zt_attest.h)
 * signed by the node key: the node's keys, the SHA-256 of the running binary,
 * the engine build id and the SHA-256 of each loaded model's GGUF file.
 * What is attested is the inference service's (zt_infer_attest, built by
 * the node: src/infer/infer_attest.c); this route checks the nonce and
 * answers the report. */
#ifndef ZT_SERVER_ATTEST_API_H
#define ZT_SERVER_ATTEST_API_H

#include "req.h"

#include "zentalk/zt_http.h"
#include "zentalk/zt_infer.h"

/* The route (ud: the node's struct zt_infer_attest): ?nonce=HEX (16..64
 * bytes) or 400 invalid_request. ud may be NULL (no identity given to the
 * server): 503. */
void zt__attest_handle(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
