/* privacy_api.h: the privacy layer in the HTTP API (internal to src/server).
 *
 * Holds the node's privacy gate (PII detector and policy) and audit log; serves
 * POST /v1/privacy/pii; writes one audit entry per audited request
 * (zt__privacy_audit, called by dispatch in server.c). */
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

struct zt__privacy;

/* Detector and policy from cfg->privacy (cfg must outlive it). ZT_ECONFIG
 * (reason in errs), ZT_ENOMEM. */
ZT_NODISCARD int zt__privacy_new(const struct zt_config *cfg, struct zt__privacy **out, struct zt_buf *errs);
/* Open the audit log in node.data_dir/logs/audit, signed by id, when
 * privacy.audit_log is on, with the identities' pseudonym salts in st
 * (the node store; owned from here on, closed by pv, also on failure and
 * when the audit log is off). Errors as
 * zt_audit_open(); ZT_EINVAL without a store. */
struct zt_store;
ZT_NODISCARD int zt__privacy_open_audit(struct zt__privacy *pv, const struct zt_identity *id, struct zt_store *st,
                                        struct zt_buf *errs);
void zt__privacy_free(struct zt__privacy *pv);

const struct zt_pii_detector *zt__privacy_detector(const struct zt__privacy *pv);
const struct zt_privacy_policy *zt__privacy_policy(const struct zt__privacy *pv);
/* The privacy gate every outbound job passes (zt_privacy_gate_check). */
const struct zt_privacy_gate *zt__privacy_gate(const struct zt__privacy *pv);
struct zt_audit *zt__privacy_audit_log(struct zt__privacy *pv); /* NULL when off */

/* The audit directory, or NULL when the audit log is off. */
const char *zt__privacy_audit_dir(const struct zt__privacy *pv);
/* identity's audit pseudonym (zt_pseudoid.h); ZT_ENOTFOUND when it has no
 * salt (and !create) or the audit log is off. */
ZT_NODISCARD int zt__privacy_pseudonym(struct zt__privacy *pv, const char *identity, bool create,
                                       char out[static ZT_PSEUDOID_STR]);
/* Destroy identity's pseudonym salt (GDPR erase). Idempotent. */
ZT_NODISCARD int zt__privacy_forget(struct zt__privacy *pv, const char *identity, bool *found);
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
void zt__privacy_audit(struct zt__privacy *pv, const struct zt__req_ctx *cx, bool record, int status);

#endif
