/* privacy_api.h: the privacy layer in the HTTP API (internal to src/server).
 *
 * Over the node's privacy layer (zt_privacy.h: gate, audit log,
 * pseudonyms): serves POST /v1/privacy/pii, is the requests' audit sink,
 * and writes one audit entry per audited request (zt__privacy_audit,
 * called by dispatch in server.c). */
#ifndef ZT_SERVER_PRIVACY_API_H
#define ZT_SERVER_PRIVACY_API_H

#include <jansson.h>
#include <stdbool.h>

#include "req.h"
#include "zentalk/zt_audit.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_pii.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_pseudoid.h"

/* The audit sink of a request (req.h: struct zt__audit_sink, ud = pv):
 * write cx's audit entry now, with an optional subject pseudonym (the
 * erase route's own entry, written before the salt goes). */
ZT_NODISCARD int zt__privacy_record(void *ud, const struct zt__req_ctx *cx, const char *subject_pseudonym,
                                    int status);

/* POST /v1/privacy/pii {"text": "...", "feature": "chat"} (ud: pv). */
void zt__privacy_h_pii(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

/* End of a request: when record, one audit entry (route, method, identity,
 * role, status, request id, and what the handler noted in cx->notes),
 * unless the handler wrote its own (zt__req_audit_now). Never fails the
 * request: an audit write error is logged (rate-limited). */
void zt__privacy_audit(struct zt_privacy_layer *pv, const struct zt__req_ctx *cx, bool record, int status);

#endif
